"""The cluster path on a real SLURM: a one-node cluster on this machine (scripts/slurm_local.sh:
slurmctld, slurmd and munge, Debian's slurm-wlm) takes a sweep through `sbatch`, preempts and
time-limits a job that saves, is requeued and resumes to an uninterrupted run's numbers, and runs
DDP across two `srun` tasks. Slow: about 4 minutes, the packages' install included."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pytorch_lightning import Callback

from dl101 import PROJECT_ROOT
from dl101.run.training import train
from tests.helpers import QUIET, compose_config, run_module, scalars

pytestmark = pytest.mark.slow

SCRIPT = PROJECT_ROOT / "scripts" / "slurm_local.sh"
CANNOT_RUN = 3  # the script's exit status where SLURM cannot run on this machine
# The launcher's settings for this one-node cluster, as a user sets them for theirs: its
# partition, no GPUs, no memory request, one CPU per task.
LAUNCHER = ["-m", "hydra/launcher=submitit_slurm", "hydra.launcher.partition=local",
            "hydra.launcher.gpus_per_node=null", "hydra.launcher.mem_gb=null",
            "hydra.launcher.cpus_per_task=1", "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip
HOLD = "+callbacks.{name}._target_=tests.helpers.HoldAtStep"
BESIDE = ThreadPoolExecutor(max_workers=1)  # the local run compared with, beside the SLURM one


@pytest.fixture(scope="session")
def slurm():
    """The cluster, started once for these tests and stopped after them (even when one fails;
    left running where it was running before). Skips, saying why, where it cannot run."""
    conf = Path(os.environ.get("DL101_SLURM_DIR", "/tmp/dl101-slurm")) / "slurm.conf"
    started = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True)
    if started.returncode == CANNOT_RUN:
        pytest.skip(started.stderr.strip().splitlines()[-1])
    assert started.returncode == 0, started.stdout + started.stderr
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)  # for sbatch, squeue, scontrol here and in the jobs
    try:
        yield conf.parent
    finally:
        if "already running" not in started.stdout:
            subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True)
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


@pytest.fixture
def cluster(slurm):
    """The cluster, with no job of a test left behind when it ends, passed or failed."""
    yield slurm
    subprocess.run(["scancel", "--user", str(os.getuid())], capture_output=True)


def submit(args: list[str], sweep_dir: Path, **env: str) -> subprocess.Popen:
    """`python -m dl101.train args` in its own process group; what it prints in <sweep>.out."""
    with sweep_dir.with_suffix(".out").open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dl101.train", *args, f"hydra.sweep.dir={sweep_dir}"],
            cwd=PROJECT_ROOT, env={**os.environ, "DL101_ROOT": str(PROJECT_ROOT), **env},
            stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip


def job_logs(sweep_dir: Path, task: str = "*") -> str:
    """What the sweep's SLURM jobs printed (submitit's log files, task by task)."""
    files = sorted((sweep_dir / ".submitit").glob(f"*/*_{task}_log.*"))
    return "".join(path.read_text() for path in files)


def wait_for(condition, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.2)


def array_job(sweep_dir: Path) -> str | None:
    """The SLURM job id of the sweep's job array (submitit's folder per task: <id>_<task>)."""
    folder = sweep_dir / ".submitit"
    ids = {path.name.split("_")[0] for path in folder.glob("*") if path.is_dir()}
    assert len(ids) <= 1, ids
    return ids.pop() if ids else None


def records(job: str) -> list[dict[str, str]]:
    """`scontrol show job`: the controller's record of each task of a job (finished ones too,
    for MinJobAge seconds: slurm.conf): JobState, Restarts, ArrayTaskId, NumTasks..."""
    said = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True)
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in said.stdout.splitlines()]


FINAL = {"COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NODE_FAIL", "OUT_OF_MEMORY", "DEADLINE"}


def ended(job: str | None) -> bool:
    states = {task["JobState"] for task in records(job)} if job else set()
    return bool(states) and states <= FINAL


def controller_says(job: str) -> list[dict[str, str]]:
    """The job's records once it has ended (its result files come a moment before)."""
    wait_for(lambda: ended(job), f"job {job} to end", 60)
    return records(job)


def finish(process: subprocess.Popen, sweep_dir: Path, timeout: float) -> None:
    """Wait for the launcher, and fail, showing what the jobs said, where it is still waiting
    half a minute after its jobs ended: without accounting (sacct) submitit learns that a job
    ended only from its result file, and waits on for one that died without writing it."""
    deadline, ended_at = time.monotonic() + timeout, None
    while process.poll() is None and time.monotonic() < deadline:
        if ended_at is None and ended(array_job(sweep_dir)):
            ended_at = time.monotonic()
        if ended_at is not None and time.monotonic() - ended_at > 30:
            break
        time.sleep(1)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail(f"the sweep's jobs ended, or {timeout} s went by, and its launcher still waits"
                    f":\n{job_logs(sweep_dir)[-3000:]}")  # fmt: skip
    said = sweep_dir.with_suffix(".out").read_text()
    assert process.returncode == 0, said[-3000:] + job_logs(sweep_dir)[-3000:]


def test_a_sweep_goes_through_sbatch_to_its_usual_folder_and_summary(cluster, mnist_dir, tmp_path):
    """4 jobs as one SLURM job array, two at a time on the node's two CPUs; job 0 is sent
    SIGUSR1 at step 10 (`scancel --signal=USR1`): it saves last.ckpt and goes on, not requeued
    (Lightning's own SLURM requeue, which would take that signal, is off)."""
    sweep, marker = tmp_path / "sweep", tmp_path / "held"
    process = submit([*LAUNCHER, "hydra.launcher.timeout_min=10", "model=mlp",
                      "model.optimizer.lr=0.01,0.1", "seed=1,2", "trainer.max_steps=30",
                      HOLD.format(name="hold"), "+callbacks.hold.step=10", "+callbacks.hold.job=0"],
                     sweep, HOLD_MARKER=str(marker))  # fmt: skip
    wait_for(marker.exists, "job 0 to reach step 10")
    job = array_job(sweep)
    subprocess.run(["scancel", "--signal=USR1", f"{job}_0"], capture_output=True)
    time.sleep(1)  # the signal has arrived before the hold ends
    marker.unlink()
    finish(process, sweep, timeout=300)

    tasks = controller_says(job)
    assert sorted(task["ArrayTaskId"] for task in tasks) == ["0", "1", "2", "3"]
    assert {(task["JobState"], task["Restarts"], task["Partition"]) for task in tasks} == {
        ("COMPLETED", "0", "local")
    }
    names = ["lr=0.01,seed=1", "lr=0.01,seed=2", "lr=0.1,seed=1", "lr=0.1,seed=2"]
    assert sorted(p.name for p in sweep.iterdir() if (p / ".hydra").is_dir()) == names
    for name in names:
        assert 0 < scalars(sweep / name)["test/acc"][-1][1] <= 1
        assert (sweep / name / "final_metrics.json").is_file()
    report = (sweep / "report.csv").read_text().splitlines()
    assert [row.split(",")[:2] for row in report[1:]] == [["0.01", "2"], ["0.1", "2"]]
    assert {p.name for p in (sweep / "mean").iterdir()} == {"lr=0.01", "lr=0.1"}
    assert list((sweep / "summary").glob("events.out.tfevents.*"))
    first = sweep / "lr=0.01,seed=1"
    assert f"SIGUSR1: saved {first / 'checkpoints' / 'last.ckpt'} at step 11" in job_logs(sweep)
    assert not list(first.glob("**/hpc_ckpt_*.ckpt"))  # Lightning's requeue did not take it


def test_a_preempted_and_time_limited_job_resumes_to_an_uninterrupted_runs_end(
    cluster, mnist_dir, tmp_path
):
    """One job, stopped twice: at step 20 preempted for real (a job on a partition of higher
    priority takes the node: SIGTERM, SLURM requeues it), at step 40 warned of its 1-minute
    time limit (SIGUSR2 from `--signal`: submitit requeues it). Each time it saves last.ckpt at
    the current step first; each requeued run resumes from it in the job's folder. Its test
    accuracy and its TensorBoard curve equal those of a run never stopped."""
    run = ["experiment=course_logreg", "trainer.max_steps=200", "trainer.deterministic=true",
           "threads=1", "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip
    sweep, preempt_at, warn_at = tmp_path / "sweep", tmp_path / "held20", tmp_path / "held40"
    whole = BESIDE.submit(run_module, "dl101.train", *run, f"hydra.run.dir={tmp_path / 'whole'}")
    # The warning comes at the controller's first check (every 30 s) after 60 - 5 - 30 = 25 s
    # of the job's minute: after the job is preempted at step 20, while it holds at step 40.
    holds = [HOLD.format(name="preempt"), "+callbacks.preempt.step=20",
             f"+callbacks.preempt.marker={preempt_at}", HOLD.format(name="warn"),
             "+callbacks.warn.step=40", f"+callbacks.warn.marker={warn_at}"]  # fmt: skip
    process = submit([*LAUNCHER, "hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=5",
                      *run, *holds], sweep)  # fmt: skip
    wait_for(preempt_at.exists, "the job to reach step 20")
    subprocess.run(["sbatch", "--partition=urgent", "--exclusive", "--output=/dev/null",
                    "--wrap=sleep 1"], check=True, capture_output=True)  # fmt: skip
    wait_for(warn_at.exists, "the requeued job to reach step 40")
    warned = "SIGUSR2: saving last.ckpt at the end of this step"
    before = job_logs(sweep).count(warned)
    wait_for(lambda: job_logs(sweep).count(warned) > before, "the time limit's warning", 120)
    warn_at.unlink()
    finish(process, sweep, timeout=300)
    assert whole.result().returncode == 0

    job = sweep / "0"
    last = job / "checkpoints" / "last.ckpt"
    said = job_logs(sweep)
    assert f"Stopped by SIGTERM at step 21: saved {last}" in said
    assert f"SIGUSR2: saved {last} at step 41; submitit requeues the job" in said
    assert said.count(f"Restoring states from the checkpoint path at {last}") == 2
    (record,) = controller_says(array_job(sweep))
    assert (record["JobState"], record["Restarts"]) == ("COMPLETED", "2")
    completions = (cluster / "jobcomp.log").read_text()
    assert re.search(rf"JobId={record['JobId']} .*JobState=PREEMPTED", completions)
    ours, theirs = scalars(job), scalars(tmp_path / "whole")
    assert ours["test/acc"][-1][1] == pytest.approx(theirs["test/acc"][-1][1], abs=1e-6)
    # One curve: each step once, in order, the values of the run never stopped.
    steps = [step for step, _ in ours["train/loss"]]
    assert steps == sorted(set(steps)) == [step for step, _ in theirs["train/loss"]]
    assert [value for _, value in ours["train/loss"]] == pytest.approx(
        [value for _, value in theirs["train/loss"]], abs=1e-6
    )


def test_ddp_across_two_srun_tasks_equals_a_local_two_process_run(cluster, mnist_dir, tmp_path):
    """`trainer=ddp` in one SLURM job of two tasks (`tasks_per_node=2`): Lightning takes each
    task's rank from SLURM (no process of its own started), gloo on CPU, and the run ends with
    the metrics of the same DDP run started locally (Lightning starting the second process)."""
    run = ["trainer=ddp", "trainer.accelerator=cpu", "model=mlp", "trainer.max_steps=60", "seed=1",
           "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip
    local = BESIDE.submit(run_module, "dl101.train", "-m", *run,
                          f"hydra.sweep.dir={tmp_path / 'local'}")  # fmt: skip
    sweep = tmp_path / "slurm"
    process = submit([*LAUNCHER, "hydra.launcher.timeout_min=10", "hydra.launcher.tasks_per_node=2",
                      *run], sweep)  # fmt: skip
    finish(process, sweep, timeout=300)
    local.result()

    (record,) = controller_says(array_job(sweep))
    assert (record["JobState"], record["NumTasks"]) == ("COMPLETED", "2")
    for rank in (0, 1):
        said = job_logs(sweep, task=str(rank))
        assert f"global_rank={rank}(2)" in said  # submitit: the task's SLURM_PROCID
        ranks = re.findall(r"Initializing distributed: GLOBAL_RANK: (\d), MEMBER: \d/2", said)
        assert ranks == [str(rank)]  # Lightning: that rank, and no second process started
    ours, theirs = (json.loads((folder / "0" / "final_metrics.json").read_text())
                    for folder in (sweep, tmp_path / "local"))  # fmt: skip
    assert ours.keys() == theirs.keys() and ours["test/acc"] > 0.5
    assert ours == pytest.approx(theirs, abs=1e-6)


class SignalProbe(Callback):
    """Records the SIGUSR1 handler in place while training runs."""

    seen: list = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen.append(signal.getsignal(signal.SIGUSR1))


def test_lightning_leaves_requeueing_to_submitit(mnist_dir, tmp_path, monkeypatch):
    """In a SLURM job (its variables, as srun sets them for one task) Lightning's SLURM
    environment gives the ranks but installs no SIGUSR1 handler of its own, even where nothing
    else holds that signal (here without SaveOnSignal): its requeue is off, submitit requeues."""
    slurm_task = {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "train", "SLURM_JOB_ID": "7",
                  "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
                  "SLURM_NODELIST": "vm"}  # fmt: skip
    for name, value in slurm_task.items():
        monkeypatch.setenv(name, value)
    SignalProbe.seen.clear()
    probe = "+callbacks.probe._target_=tests.test_slurm.SignalProbe"
    overrides = ["~callbacks.save_on_signal", probe, "trainer.max_steps=2", *QUIET]
    train(compose_config(tmp_path, overrides))
    assert SignalProbe.seen == [signal.SIG_DFL, signal.SIG_DFL]
