"""Runs read back from folders laid out as dl101 writes them (written here in-process, no
training): which scalars, steps and HPARAMS values a report sees, the sweep's order, whether a
job failed or was killed, how many jobs a sweep asked for and how to continue it, and the
report files. Exact values, so that a summary's conclusion rests on what was logged."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from tensorboard.plugins.hparams import summary_v2 as hp
from torch.utils.tensorboard import SummaryWriter

from dl101.errors import InputError
from dl101.results.job_names import FAILED_MARKER, FINISHED_MARKER, SWEPT_KEYS_VAR
from dl101.results.runs import (
    JUDGED_BY,
    continuation,
    event_dir,
    find_runs,
    read_run,
    read_yaml,
    sweep_plan,
)
from dl101.results.tables import markdown_table, write_report

JUDGED = {"monitor": "val/acc", "directions": {"acc": "max", "loss": "min"}, "metrics": ["val/acc"]}


def write_run(folder: Path, scalars: dict, overrides=(), config=None, num=None, swept=(),
              failed=None, finished=True, row=None, events_in=".") -> Path:  # fmt: skip
    """A run's folder as a finished (or failed, or killed) dl101 run leaves it."""
    hydra = folder / ".hydra"
    hydra.mkdir(parents=True)
    OmegaConf.save(config or {"seed": 1}, hydra / "config.yaml")
    OmegaConf.save(list(overrides), hydra / "overrides.yaml")
    if num is not None:
        job = {"num": num, "env_set": {SWEPT_KEYS_VAR: " ".join(swept)}}
        OmegaConf.save({"hydra": {"job": job}}, hydra / "hydra.yaml")
    OmegaConf.save(JUDGED, folder / JUDGED_BY)
    if finished:
        (folder / FINISHED_MARKER).write_text("{}")
    if failed:
        (folder / FAILED_MARKER).write_text(failed)
    writer = SummaryWriter(str(folder / events_in))
    for tag, points in scalars.items():
        for step, value in points:
            writer.add_scalar(tag, value, step)
    if row:
        writer.file_writer.add_summary(hp.hparams_pb(row, trial_id=folder.name))
    writer.close()
    return folder


def sweep_yaml(folder: Path, task: list[str], params=None, sweeper="BasicSweeper", trials=None):
    sweeper_cfg = {"_target_": f"hydra._internal.core_plugins.{sweeper}", "params": params}
    if trials is not None:
        sweeper_cfg["n_trials"] = trials
    OmegaConf.save({"hydra": {"overrides": {"task": task}, "sweeper": sweeper_cfg}},
                   folder / "multirun.yaml")  # fmt: skip


def test_a_run_is_read_with_its_scalars_in_step_order_and_its_hparams_row(tmp_path):
    folder = write_run(tmp_path / "lr=0.1", {"val/acc": [(20, 0.75), (10, 0.5), (30, 0.625)]},
                       overrides=["+regularization=dropout", "lr=0.1"], num=3,
                       swept=["lr", "seed"], row={"lr": 0.1, "data": "mnist", "wd": True},
                       config={"model": {"lr": 0.1}, "seed": 4})  # fmt: skip
    run = read_run(folder)
    assert run.events == {"val/acc": [(10, 0.5), (20, 0.75), (30, 0.625)]}  # float32-exact
    assert (run.final("val/acc"), run.best("val/acc")) == (0.625, 0.75)
    assert run.at_step("val/acc", 25) == 0.75  # the last logged at or before
    assert run.at_step("val/acc", 20) == 0.75 and run.at_step("val/acc", 99) == 0.625
    assert run.at_step("val/acc", 9) is None and run.at_step("val/loss", 30) is None
    assert run.session_hparams == {"lr": pytest.approx(0.1), "data": "mnist", "wd": True}
    assert (run.job_num, run.swept, run.failed, run.finished) == (3, ["lr", "seed"], None, True)
    assert run.judged == JUDGED and run.overrides == ["+regularization=dropout", "lr=0.1"]
    assert run.hparams() == {"regularization": "dropout", "lr": "0.1"}
    assert run.lookup("model.lr") == 0.1 and run.lookup("seed") == 4  # the config first
    assert run.lookup("regularization") == "dropout"  # else the job's override of the key
    chose = read_run(write_run(tmp_path / "m", {}, overrides=["model=tiny"],
                               config={"model": {"width": 8}}))  # fmt: skip
    assert chose.lookup("model") == "tiny"  # a config group: the option, not its contents
    assert run.lookup("model.missing") is None and run.lookup("model.lr.deeper") is None
    assert run.lookup("overrides") == "+regularization=dropout lr=0.1"


def test_a_run_from_elsewhere_is_read_with_what_its_folder_holds(tmp_path):
    """A run without overrides.yaml (launched from Python), a config that interpolates Hydra's
    own keys (unresolvable outside Hydra: kept as written), a hydra.yaml without env_set."""
    folder = write_run(tmp_path / "py", {}, config={"out": "${hydra:runtime.output_dir}"}, num=0)
    (folder / ".hydra" / "overrides.yaml").unlink()
    OmegaConf.save({"hydra": {"job": {"num": 2}}}, folder / ".hydra" / "hydra.yaml")
    run = read_run(folder)
    assert (run.overrides, run.hparams(), run.job_num, run.swept) == ([], {}, 2, [])
    assert run.config == {"out": "${hydra:runtime.output_dir}"}
    unset = write_run(tmp_path / "unset", {}, num=1)
    OmegaConf.save({"hydra": {"job": {"num": 1, "env_set": {}}}}, unset / ".hydra" / "hydra.yaml")
    assert read_run(unset).swept == []


def test_an_override_keeps_everything_after_its_first_equals_sign(tmp_path):
    run = read_run(write_run(tmp_path / "a", {}, overrides=[
        "+trainer.name=a=b", "~callbacks.early_stopping", "++seed=2", "tags=[x,y]"]))  # fmt: skip
    assert run.hparams() == {"trainer.name": "a=b", "seed": "2", "tags": "[x,y]"}


def test_the_overrides_column_leaves_the_seed_out(tmp_path):
    seeded = read_run(write_run(tmp_path / "a", {}, overrides=["seed=3", "lr=1"]))
    assert seeded.lookup("overrides") == "lr=1"
    only_seed = read_run(write_run(tmp_path / "b", {}, overrides=["seed=3"]))
    assert only_seed.lookup("overrides") == "(none)"


def test_a_failed_job_and_a_killed_one_are_told_apart(tmp_path):
    failed = read_run(write_run(tmp_path / "f", {}, failed="NonFiniteLossError: nan at step 4"))
    assert failed.failed == "NonFiniteLossError: nan at step 4"
    empty_reason = read_run(write_run(tmp_path / "e", {}, failed="  "))
    assert empty_reason.failed == "failed"
    killed = read_run(write_run(tmp_path / "k", {}, finished=False))
    assert (killed.finished, killed.failed) == (False, None)
    older = write_run(tmp_path / "o", {}, finished=False)
    (older / JUDGED_BY).unlink()  # from before judged_by.yaml and final_metrics.json: it ended
    assert read_run(older).finished and read_run(older).judged == {}


def test_an_older_runs_events_are_read_from_its_tensorboard_folder(tmp_path):
    folder = write_run(tmp_path / "old", {"val/acc": [(0, 0.25)]}, events_in="tensorboard")
    assert event_dir(folder) == folder / "tensorboard"
    assert event_dir(tmp_path / "new") == tmp_path / "new"
    assert read_run(folder).events == {"val/acc": [(0, 0.25)]}


def test_a_sweeps_runs_come_in_the_order_the_sweep_ran_them(tmp_path):
    for num, name in [(10, "j10"), (2, "j2"), (1, "j1")]:
        write_run(tmp_path / "sweep" / name, {}, num=num)
    write_run(tmp_path / "sweep" / "summary" / "mean", {})  # a run without a job number
    found = find_runs(tmp_path / "sweep")
    assert [run.path.name for run in found] == ["j1", "j2", "j10", "mean"]  # by number, not name
    assert [run.path.name for run in find_runs(tmp_path / "sweep" / "j2")] == ["j2"]
    with pytest.raises(InputError, match=r"no runs here \(no .hydra/config.yaml below it\)"):
        find_runs(tmp_path / "nothing")


def test_the_jobs_a_sweep_asks_for_are_counted_from_its_multirun_yaml(tmp_path):
    assert sweep_plan(tmp_path) == (None, [])  # no multirun.yaml: a single run
    sweep_yaml(tmp_path, ["seed=1,2,3", "lr=0.1,0.2", "trainer.max_steps=9"])
    assert sweep_plan(tmp_path) == (6, ["seed=1,2,3", "lr=0.1,0.2", "trainer.max_steps=9"])
    sweep_yaml(tmp_path, ["seed=1,2"], params={"model.dropout": "0.1,0.5,0.9"})
    assert sweep_plan(tmp_path)[0] == 6  # the sweep's params count with the command's
    sweep_yaml(tmp_path, ["lr=interval(0.1,1)"])
    assert sweep_plan(tmp_path) == (None, ["lr=interval(0.1,1)"])  # not a list: no count
    sweep_yaml(tmp_path, ["hparams_search=optuna"], sweeper="optuna.OptunaSweeper", trials=20)
    assert sweep_plan(tmp_path) == (20, ["hparams_search=optuna"])
    sweep_yaml(tmp_path, ["trainer.max_steps=9"])
    assert sweep_plan(tmp_path)[0] == 1


def test_a_killed_sweep_says_how_many_jobs_are_left_and_how_to_continue(tmp_path):
    sweep = tmp_path / "sweep"
    for seed, finished in [(1, True), (2, True), (3, False)]:
        write_run(sweep / f"seed={seed}", {}, num=seed - 1, finished=finished)
    write_run(sweep / "seed=4", {}, num=3, finished=False, failed="RuntimeError: boom")
    sweep_yaml(sweep, ["seed=1,2,3,4,5", "lr=0.1"])
    hint = continuation(sweep, find_runs(sweep))
    command = f"python -m dl101.train -m seed=1,2,3,4,5 lr=0.1 hydra.sweep.dir={sweep}"
    assert hint == (  # seed=3 killed, seed=5 never started; the failed job stays failed
        "2 of 5 jobs did not finish; continue the sweep (finished jobs are kept, a killed one "
        f"resumes from its last.ckpt): {command}"
    )


def test_a_finished_sweep_or_a_single_run_gets_no_continuation(tmp_path):
    sweep = tmp_path / "sweep"
    for seed in (1, 2):
        write_run(sweep / f"seed={seed}", {}, num=seed - 1)
    assert continuation(sweep, find_runs(sweep)) is None  # no multirun.yaml
    sweep_yaml(sweep, ["seed=1,2"])
    assert continuation(sweep, find_runs(sweep)) is None
    sweep_yaml(sweep, ["seed=1,2,3"])  # one never started, none killed
    assert continuation(sweep, find_runs(sweep)).startswith("1 of 3 jobs did not finish")
    sweep_yaml(sweep, ["lr=interval(0,1)"])  # a count unknown: only killed jobs are said
    assert continuation(sweep, find_runs(sweep)) is None
    write_run(sweep / "seed=3", {}, num=2, finished=False)
    assert continuation(sweep, find_runs(sweep)).startswith("1 of 3 jobs did not finish")


def test_a_report_is_written_as_markdown_and_csv_with_its_numbers_right_aligned(tmp_path):
    header = ["job", "runs", "val/acc final", "val/acc best", "val/acc (mean ± std)",
              "course val/acc", "note"]  # fmt: skip
    rows = [["a", "3", "0.5", "0.6", "0.5 ± 0.1", "0.52", "x"]]
    assert markdown_table(header[:2], [["a", "3"], ["b", "4"]]) == [
        "| job | runs |", "|---|---|", "| a | 3 |", "| b | 4 |"]  # fmt: skip
    table = write_report(tmp_path, "A title", header, rows)
    assert (tmp_path / "report.md").read_text() == "\n".join(
        ["# A title", "", *markdown_table(header, rows)]) + "\n"  # fmt: skip
    with (tmp_path / "report.csv").open() as f:
        assert list(csv.reader(f)) == [header, *rows]
    justify = [column.justify for column in table.columns]
    assert justify == ["left", "right", "right", "right", "right", "right", "left"]
    assert table.title == "A title" and table.row_count == 1
    assert [column.header for column in table.columns] == header


TRICKY_YAML = """\
lr: 1e-3
weight_decay: 1.0e-05
scale: [.5, -2E+2, .inf, -.Inf]
count: 1_000
day: 2026-12-06
folder: ${paths.output_dir}/checkpoints
where: !!python/object/apply:pathlib.PosixPath [/tmp, runs]
flags: {on: true, off: no, none: null, text: '7'}
"""


@pytest.mark.parametrize("text", [TRICKY_YAML, "", "[seed=1, +model.note=a]\n"])
def test_a_runs_files_read_as_omegaconf_reads_them(tmp_path, text):
    """read_yaml (libyaml's parser) gives what OmegaConf.load and to_container give: its
    floats without a dot, no dates, its paths, an empty file as {}."""
    path = tmp_path / "config.yaml"
    path.write_text(text)
    expected = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    assert repr(read_yaml(path)) == repr(expected)  # types too: 0.001 not '1e-3', not 1
