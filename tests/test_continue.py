"""Nothing lost: a sweep killed (kill -9) while its third job runs continues with the command
that started it (the finished jobs kept untouched, the killed one resumed from its last.ckpt,
the rest run) to the report an uninterrupted sweep gives; a folder of another sweep or of an
Optuna study kept in memory is refused; a run told to stop (SIGTERM) saves its current step
and resumes to where an uninterrupted run ends; SIGUSR1 saves without stopping."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from dl101 import PROJECT_ROOT
from dl101.results.runs import find_runs
from dl101.run.checkpoints import load_checkpoint
from tests.helpers import run_module, scalars

# Four deterministic jobs of the course's overfitting run; last.ckpt every 50 steps.
SWEEP = ["-m", "experiment=course_overfit", "seed=1,2,3,4", "trainer.max_steps=80",
         "trainer.deterministic=true", "threads=1", "callbacks.progress_bar.refresh_rate=0",
         "+callbacks.hold._target_=tests.helpers.HoldAtStep", "+callbacks.hold.step=70",
         "+callbacks.hold.job=2"]  # fmt: skip
ENV = {**os.environ, "DL101_ROOT": str(PROJECT_ROOT)}
# The uninterrupted run to compare with runs beside the one that is stopped: deterministic
# runs give the same numbers side by side, and the test takes half the time.
BESIDE = ThreadPoolExecutor(max_workers=1)


def start(args: list[str], marker: Path) -> subprocess.Popen:
    """`python -m dl101.train args` in its own process group, holding where HoldAtStep says;
    its stderr in <marker>.err."""
    return subprocess.Popen(
        [sys.executable, "-m", "dl101.train", *args], cwd=PROJECT_ROOT,
        env={**ENV, "HOLD_MARKER": str(marker)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=marker.with_suffix(".err").open("w"),
    )  # fmt: skip


def wait_for(marker: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the run never reached its held step"


def killed_sweep(sweep_dir: Path, extra: list[str]) -> None:
    """The sweep, kill -9'd (the whole process group) while job 2 holds at step 70."""
    marker = sweep_dir.with_name(sweep_dir.name + ".held")
    process = start([*SWEEP, *extra, f"hydra.sweep.dir={sweep_dir}"], marker)
    wait_for(marker, process)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def event_files(job: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in job.glob("events.*")}


def report_rows(sweep_dir: Path) -> list[list[str]]:
    with (sweep_dir / "report.csv").open() as f:
        return list(csv.reader(f))


def continue_and_compare(tmp_path: Path, extra: list[str], left: str) -> Path:
    """Kill, continue and compare; `left`: what the killed sweep's report says is left."""
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    uninterrupted_sweep = BESIDE.submit(
        run_module, "dl101.train", *SWEEP, *extra, f"hydra.sweep.dir={whole}"
    )
    killed_sweep(killed, extra)
    first_two = {job: event_files(killed / job) for job in ("seed=1", "seed=2")}
    assert all(first_two.values())
    hint = run_module("dl101.report", str(killed)).stdout
    assert left in hint and f"hydra.sweep.dir={killed}" in hint
    run_module("dl101.train", *SWEEP, *extra, f"hydra.sweep.dir={killed}")  # as typed before
    uninterrupted_sweep.result()
    assert {job: event_files(killed / job) for job in first_two} == first_two  # untouched
    resumed, uninterrupted = (scalars(d / "seed=3")["val/acc"] for d in (killed, whole))
    assert [s for s, _ in resumed] == [s for s, _ in uninterrupted]  # one curve: no step twice
    assert [v for _, v in resumed] == pytest.approx([v for _, v in uninterrupted], abs=1e-6)
    assert report_rows(killed) == report_rows(whole)  # every job's values, to the digit
    for here, there in zip(find_runs(killed), find_runs(whole), strict=True):
        assert here.final("val/acc") == pytest.approx(there.final("val/acc"), abs=1e-6)
    return killed


def test_a_killed_sweep_continues_to_an_uninterrupted_sweeps_report(mnist_dir, tmp_path):
    """Jobs 1 and 2 done, job 3 killed at step 70 (its last.ckpt: step 50), job 4 never
    started."""
    killed = continue_and_compare(tmp_path, [], "2 of 4 jobs did not finish")
    assert (killed / "summary").is_dir()  # the summary covers all four


@pytest.mark.slow
def test_a_killed_joblib_sweep_continues_to_an_uninterrupted_sweeps_report(mnist_dir, tmp_path):
    """Jobs side by side: job 4 ran beside the killed job 3, and may have finished."""
    continue_and_compare(tmp_path, ["hydra/launcher=joblib"], "of 4 jobs did not finish")


def test_a_sweep_folder_of_other_overrides_or_a_lost_study_is_refused(tmp_path):
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    saved = {"hydra": {"overrides": {"task": ["seed=1,2", "trainer.max_steps=5"]}}}
    OmegaConf.save(saved, sweep_dir / "multirun.yaml")
    result = run_module("dl101.train", "-m", "seed=1,3", "trainer.max_steps=5",
                        f"hydra.sweep.dir={sweep_dir}", check=False)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (f"Error: hydra.sweep.dir={sweep_dir} holds a sweep of other overrides (there: "
            "seed=1,2; here: seed=1,3)") in result.stderr  # fmt: skip
    OmegaConf.save({"hydra": {"overrides": {"task": ["hparams_search=optuna"]}}},
                   sweep_dir / "multirun.yaml")  # fmt: skip
    result = run_module("dl101.train", "hparams_search=optuna", f"hydra.sweep.dir={sweep_dir}",
                        check=False)  # fmt: skip
    assert result.returncode == 1 and "its Optuna study was kept in memory" in result.stderr
    assert not list(sweep_dir.glob("*/.hydra"))  # refused before any trial ran


RUN = ["experiment=course_logreg", "trainer.max_steps=200", "callbacks.progress_bar.refresh_rate=0",
       "trainer.deterministic=true", "threads=1"]  # fmt: skip
HOLD = ["+callbacks.hold._target_=tests.helpers.HoldAtStep", "+callbacks.hold.step=120"]


def test_sigterm_saves_the_current_step_and_the_run_resumes_to_an_uninterrupted_end(
    mnist_dir, tmp_path
):
    """Step 120 lies inside logistic regression's first epoch (550 batches): the resumed run
    skips the batches the epoch had done, and ends where one never stopped does."""
    run, marker = tmp_path / "run", tmp_path / "held"
    uninterrupted = BESIDE.submit(
        run_module, "dl101.train", *RUN, f"hydra.run.dir={tmp_path / 'whole'}"
    )
    process = start([*RUN, *HOLD, f"hydra.run.dir={run}"], marker)
    wait_for(marker, process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM
    saved = load_checkpoint(str(run / "checkpoints" / "last.ckpt"))
    assert saved["global_step"] == 121  # the held step, then done: the current one
    resumed = run_module("dl101.train", *RUN, f"ckpt_path={run}/checkpoints/last.ckpt",
                         f"hydra.run.dir={run}")  # fmt: skip
    whole = uninterrupted.result()
    ours, theirs = (scalars(folder)["test/acc"][-1][1] for folder in (run, tmp_path / "whole"))
    assert ours == pytest.approx(theirs, abs=1e-6)
    assert "Stopped by SIGTERM" not in resumed.stderr and whole.returncode == 0


def test_sigusr1_saves_the_current_step_and_the_run_goes_on(mnist_dir, tmp_path):
    run, marker = tmp_path / "run", tmp_path / "held"
    process = start([*RUN, *HOLD, f"hydra.run.dir={run}"], marker)
    wait_for(marker, process)
    process.send_signal(signal.SIGUSR1)
    time.sleep(0.5)  # the handler has run before the hold ends
    marker.unlink()
    assert process.wait(timeout=300) == 0  # it went on to its end
    assert (run / "final_metrics.json").is_file()
    said = marker.with_suffix(".err").read_text()
    assert f"SIGUSR1: saved {run / 'checkpoints' / 'last.ckpt'} at step 121" in said
