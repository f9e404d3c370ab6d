"""Stacked sweeps (hydra/launcher=stacked): which jobs train together and which run alone; the
stacked optimizers step as torch.optim's; a member is its own run (its checkpoints evaluated as
any run's, a NaN loss failing it alone); a killed stacked sweep continues to the report of one
never stopped; dropout and augmentation members agree in distribution with separate runs."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import get_class
from scipy import stats

from dl101 import PROJECT_ROOT
from dl101.data.batching import TensorBatches, tensor_loader
from dl101.models import CNN, MLP
from dl101.results.runs import find_runs
from dl101.run.checkpoints import load_checkpoint
from dl101.stacked.grouping import describe, refusal, split_for, stack_key
from dl101.stacked.model import StackedClassifier, dropout_rates, stacked_template
from dl101.stacked.optim import stacked_optimizer
from dl101.stacked.training import MemberBatches
from tests.helpers import compose_config, run_module, scalars

OVERFIT = ["experiment=course_overfit"]


@pytest.mark.parametrize(
    ("target", "members"),
    [
        ("torch.optim.SGD", [{"lr": 0.01, "momentum": 0.9, "weight_decay": 1e-3},
                             {"lr": 0.1}, {"lr": 0.05, "momentum": 0.5, "dampening": 0.1}]),
        ("torch.optim.Adam", [{"lr": 1e-3},
                              {"lr": 1e-2, "weight_decay": 1e-2, "betas": (0.8, 0.99)}]),
        ("torch.optim.AdamW", [{"lr": 1e-3}, {"lr": 1e-2, "weight_decay": 0.1, "eps": 1e-6}]),
    ],
)  # fmt: skip
def test_a_stacked_optimizer_steps_each_member_as_its_own_torch_optimizer(target, members):
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(len(members), 5, 3, generator=generator)
    alone = [torch.nn.Parameter(start[i].clone()) for i in range(len(members))]
    optimizers = [get_class(target)([p], **kw) for p, kw in zip(alone, members, strict=True)]
    stacked = torch.nn.Parameter(start.clone())
    together = stacked_optimizer([stacked], target, members)
    for _ in range(25):
        grad = torch.randn(start.shape, generator=generator)
        for i, optimizer in enumerate(optimizers):
            alone[i].grad = grad[i].clone()
            optimizer.step()
        stacked.grad = grad
        together.step()
    for i, optimizer in enumerate(optimizers):
        torch.testing.assert_close(stacked[i], alone[i], rtol=1e-6, atol=1e-7)
        own = optimizer.state_dict()["state"]  # what a separate run's checkpoint holds
        mine = together.member_state(i)
        assert {k: sorted(v) for k, v in mine.items()} == {k: sorted(v) for k, v in own.items()}
        for key, value in own.get(0, {}).items():
            torch.testing.assert_close(mine[0][key], value, rtol=1e-6, atol=1e-7)


def test_members_differing_in_dropout_share_one_template_and_their_own_rates():
    """A member without dropout joins at rate 0; one with other layers cannot join."""
    optimizer = partial(torch.optim.SGD, lr=0.01)

    def mlp(dropout, hidden=(50, 20)):
        return MLP([1, 28, 28], 10, list(hidden), dropout=dropout, optimizer=optimizer)

    with_dropout, plain, other = mlp([0.4, 0.0, 0.2]), mlp(0.0), mlp(0.0, hidden=(30, 20))
    assert dropout_rates(with_dropout, plain) == [0.0, 0.0]
    assert dropout_rates(with_dropout, with_dropout) == [0.4, 0.2]
    assert dropout_rates(with_dropout, other) is None
    members = [with_dropout, plain]
    model = StackedClassifier(
        stacked_template(with_dropout), members,
        [dropout_rates(with_dropout, m) for m in members], None,
    )  # fmt: skip
    x = torch.rand(2, 64, 1, 28, 28)
    model.template.eval()
    expected = torch.stack([m.eval()(x[i]) for i, m in enumerate(members)])
    torch.testing.assert_close(model.logits(x, shared=False), expected, rtol=1e-5, atol=1e-6)
    # One batch that all members read (validation): each member's own logits.
    shared = torch.stack([m(x[0]) for m in members])
    torch.testing.assert_close(model.logits(x[0], shared=True), shared, rtol=1e-5, atol=1e-6)
    model.template.train()  # dropout draws: the member at rate 0 is untouched, the other not
    train = model.logits(x, shared=False)
    torch.testing.assert_close(train[1], plain.train()(x[1]), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(train[0], with_dropout.train()(x[0]))


def test_batch_norm_keeps_statistics_per_member():
    """Two CNNs with batch norm: in training each member normalizes by its own batch and updates
    its own running statistics, as it would alone; in eval it uses them."""
    optimizer = partial(torch.optim.SGD, lr=0.01)
    block = {"out_channels": 4, "kernel_size": 3, "padding": "same", "batch_norm": True,
             "pool": {"type": "max", "kernel_size": 2, "stride": 2}}  # fmt: skip
    torch.manual_seed(0)
    members = [CNN([1, 28, 28], 10, [block], [16], optimizer=optimizer) for _ in range(2)]
    model = StackedClassifier(stacked_template(members[0]), members,
                              [dropout_rates(members[0], m) for m in members], None)  # fmt: skip
    x = torch.rand(2, 8, 1, 28, 28)
    x[1] *= 3  # other statistics for the second member
    model.template.train()
    together = model.logits(x, shared=False)
    alone = torch.stack([m.train()(x[i]) for i, m in enumerate(members)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)
    for i, member in enumerate(members):
        own = model.member_state_dict(i)
        for name, value in member.named_buffers():
            torch.testing.assert_close(own[name], value, rtol=1e-6, atol=1e-7)
    model.template.eval()
    expected = torch.stack([m.eval()(x[i]) for i, m in enumerate(members)])
    torch.testing.assert_close(model.logits(x, shared=False), expected, rtol=1e-5, atol=1e-6)
    shared = torch.stack([m(x[1]) for m in members])  # a linear layer after convolutions
    torch.testing.assert_close(model.logits(x[1], shared=True), shared, rtol=1e-5, atol=1e-6)


def test_each_member_draws_the_batches_its_separate_run_draws():
    """Member i's batches, epoch after epoch, are those of the loader its run would build after
    seeding with its seed (EpochShuffleSampler(seed) over the same in-memory data)."""
    data = TensorBatches(torch.arange(40.0).view(20, 2), torch.arange(20))
    seeds = [3, 11, 7]
    stacked = MemberBatches(data, 5, seeds, trainer=None)
    for epoch in (0, 1):
        stacked.set_epoch(epoch)
        batches = list(stacked)
        for member, seed in enumerate(seeds):
            pl.seed_everything(seed, verbose=False)
            loader = tensor_loader(data, 5, shuffle=True)
            loader.batch_sampler.sampler.set_epoch(epoch)
            for (x, y), (own_x, own_y) in zip(batches, loader, strict=True):
                assert torch.equal(x[member], own_x) and torch.equal(y[member], own_y)


def composed(tmp_path: Path, *overrides: str):
    return compose_config(tmp_path, [*OVERFIT, *overrides])


def test_jobs_stack_when_they_differ_in_seed_optimizer_dropout_or_augmentation(tmp_path):
    base = composed(tmp_path)
    same = [
        base,
        composed(tmp_path, "seed=7"),
        composed(tmp_path, "model.optimizer.lr=0.1", "model.optimizer.momentum=0.5"),
        composed(tmp_path, "regularization=weight_decay"),
        composed(tmp_path, "regularization=dropout"),
        composed(tmp_path, "regularization=augmentation"),
    ]
    assert all(refusal(cfg) is None for cfg in same)
    keys = {stack_key(cfg, str(tmp_path)) for cfg in same}
    assert len(keys) == 1
    other = [
        composed(tmp_path, "model.hidden_sizes=[30,20]"),
        composed(tmp_path, "data.batch_size=10"),
        composed(tmp_path, "trainer.max_steps=100"),
        composed(tmp_path, "model/optimizer=adam"),
        composed(tmp_path, "model.optimizer.nesterov=true"),
    ]
    for cfg in other:
        assert stack_key(cfg, str(tmp_path)) not in keys


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (["experiment=char_lm"], "RNNLanguageModel: a language model: its recurrent state carries"),
        (["experiment=synthetic_linear_regression"], "LinearRegression: not a classifier"),
        ([*OVERFIT, "seed=null"], "seed=null"),
        ([*OVERFIT, "model/scheduler=cosine"], "model.scheduler"),
        ([*OVERFIT, "trainer.gradient_clip_val=1.0"], "trainer.gradient_clip_val"),
        ([*OVERFIT, "logger=mlflow"], "logger.mlflow (MLflowFileStoreLogger)"),
        ([*OVERFIT, "+callbacks.grads._target_=dl101.callbacks.GradientFlow"],
         "callbacks.grads (GradientFlow)"),
        ([*OVERFIT, "model.optimizer.nesterov=true"], "model.optimizer.nesterov=true"),
    ],
)  # fmt: skip
def test_what_cannot_stack_is_refused_in_a_few_words(tmp_path, overrides, reason):
    assert reason in (refusal(compose_config(tmp_path, overrides)) or "")


def test_the_grouping_is_said_in_one_line():
    groups = [[1] * 20]
    assert describe(groups, {}) == "20 jobs -> 1 stacked group of 20"
    alone = {"RNNLanguageModel: a language model": [1, 2]}
    line = describe([[1] * 3, [1] * 3], alone)
    assert (
        line == "8 jobs -> 2 stacked groups of 3, 3; 2 alone (RNNLanguageModel: a language model)"
    )
    assert describe(split_for(groups, 2), {}, 2) == (
        "20 jobs -> 2 stacked groups of 10, 10 (2 processes side by side)"
    )
    assert [len(g) for g in split_for([[1] * 7, [1] * 2], 4)] == [3, 2, 2, 2]  # parts of 2 or more
    assert [len(g) for g in split_for([[1] * 3], 2)] == [3]


STACKED = ["-m", *OVERFIT, "hydra/launcher=stacked", "trainer.max_steps=20",
           "callbacks.progress_bar.refresh_rate=0",
           "callbacks.last_checkpoint.every_n_epochs=10"]  # fmt: skip


def test_a_member_is_its_own_run_and_a_nan_loss_fails_it_alone(mnist_dir, tmp_path):
    """Two members: the one with a learning rate of 1e6 fails (NaN loss) as a separate job
    would, marked in its folder; the other finishes as its own run: its folder holds what a
    separate job's does, and `dl101.evaluate` reads its best checkpoint and finds the test
    accuracy its run logged (tested at its best weights)."""
    sweep = tmp_path / "sweep"
    best = "callbacks.model_checkpoint.save_top_k=1"
    result = run_module(
        "dl101.train", *STACKED, "model.optimizer.lr=0.01,1000000", best, f"hydra.sweep.dir={sweep}"
    )
    assert "1 stacked group of 2" in result.stdout and "failed" in result.stdout.lower()
    failed, finished = sweep / "lr=1000000", sweep / "lr=0.01"
    reason = (failed / "FAILED").read_text()
    assert reason.startswith("NonFiniteLossError: The training loss became nan at step")
    assert not (failed / "final_metrics.json").exists()
    names = {p.name for p in finished.iterdir()}
    assert {".hydra", "checkpoints", "final_metrics.json", "judged_by.yaml",
            "provenance.yaml", "hparams.yaml"} <= names  # fmt: skip
    last = load_checkpoint(str(finished / "checkpoints" / "last.ckpt"))
    assert last["dl101_config"]["model"]["optimizer"]["lr"] == 0.01
    (checkpoint,) = (finished / "checkpoints").glob("epoch*.ckpt")
    evaluated = run_module(
        "dl101.evaluate", f"ckpt_path='{checkpoint}'", f"hydra.run.dir={tmp_path / 'eval'}"
    )
    logged = scalars(finished)["test/acc"][-1][1]
    assert f"{logged:.4f}" in evaluated.stdout


# A killed stacked sweep: three deterministic members, last.ckpt every 50 steps, held at step 70.
KILLED = ["-m", *OVERFIT, "hydra/launcher=stacked", "seed=1,2,3",
          "trainer.max_steps=80", "callbacks.progress_bar.refresh_rate=0",
          "+callbacks.hold._target_=tests.helpers.HoldAtStep",
          "+callbacks.hold.step=70"]  # fmt: skip


def descendants(pid: int) -> list[int]:
    """The processes started by `pid` and by those (the workers are the forkserver's
    children): /proc/<pid>/stat reads pid (name) state ppid ..."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def gone(pids: list[int], seconds: float = 20) -> bool:
    """Whether these processes end (or are zombies) within `seconds`."""

    def running(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + seconds
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not any(map(running, pids))


def report_rows(sweep_dir: Path) -> list[list[str]]:
    with (sweep_dir / "report.csv").open() as f:
        return list(csv.reader(f))


def held_at_step_70(sweep_dir: Path, marker: Path, stdout) -> subprocess.Popen:
    """The KILLED sweep started in its own session, returned once its group holds at step 70."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dl101.train", *KILLED, f"hydra.sweep.dir={sweep_dir}"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DL101_ROOT": str(PROJECT_ROOT), "HOLD_MARKER": str(marker)},
        start_new_session=True, stdout=stdout, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the stacked group never reached step 70"
    return process


@pytest.mark.slow
def test_a_killed_stacked_sweep_continues_to_an_uninterrupted_ones_report(mnist_dir, tmp_path):
    """kill -9 of the launcher at step 70 (its worker stops with it): each member resumes from
    its own last.ckpt (step 50: weights, momentum, best so far) in one group again, its curve
    carrying on, to the report of a sweep never stopped."""
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    run_module("dl101.train", *KILLED, f"hydra.sweep.dir={whole}")
    process = held_at_step_70(killed, tmp_path / "held", stdout=subprocess.DEVNULL)
    workers = descendants(process.pid)
    os.kill(process.pid, signal.SIGKILL)  # the launcher alone: its workers stop with it
    process.wait()
    assert gone(workers), "a worker outlived the launcher"
    steps = {load_checkpoint(str(killed / f"seed={s}" / "checkpoints" / "last.ckpt"))["global_step"]
             for s in (1, 2, 3)}  # fmt: skip
    assert steps == {50}
    again = run_module("dl101.train", *KILLED, f"hydra.sweep.dir={killed}")
    assert "1 stacked group of 3" in again.stdout
    for job in ("seed=1", "seed=2", "seed=3"):
        resumed, uninterrupted = scalars(killed / job), scalars(whole / job)
        for tag in ("val/acc", "val/loss", "train/loss_epoch", "test/acc"):
            assert [s for s, _ in resumed[tag]] == [s for s, _ in uninterrupted[tag]], tag
            expected = pytest.approx([v for _, v in uninterrupted[tag]], rel=1e-6, abs=1e-7)
            assert [v for _, v in resumed[tag]] == expected, (job, tag)
    assert report_rows(killed) == report_rows(whole)


@pytest.mark.slow
def test_sigterm_to_the_launcher_saves_every_member_in_its_worker_and_the_sweep_continues(
    mnist_dir, tmp_path
):
    """SIGTERM to the launcher's process alone (its groups train in worker processes): it
    reaches the workers, every member saves its last.ckpt at the step it was at (held at 70,
    then done: 71, as a separate run), the command exits 143, no worker outlives it, and the
    same command continues the sweep to an unstopped one's report."""
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    run_module("dl101.train", *KILLED, f"hydra.sweep.dir={whole}")
    process = held_at_step_70(stopped, tmp_path / "held", stdout=subprocess.PIPE)
    workers = descendants(process.pid)
    assert workers, "the groups train in worker processes"
    os.kill(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 143, output
    assert "processes side by side" not in output  # three members: one group, one worker
    lasts = [stopped / f"seed={s}" / "checkpoints" / "last.ckpt" for s in (1, 2, 3)]
    assert {load_checkpoint(str(last))["global_step"] for last in lasts} == {71}
    assert gone(workers), "a worker outlived the launcher"
    again = run_module("dl101.train", *KILLED, f"hydra.sweep.dir={stopped}")
    assert "1 stacked group of 3" in again.stdout
    assert report_rows(stopped) == report_rows(whole)


@pytest.mark.slow
def test_dropout_and_augmentation_members_agree_in_distribution_with_separate_runs(
    mnist_dir, tmp_path
):
    """The regularization sweep (5 seeds, 500 steps) stacked and as separate jobs: members with
    random draws in training (dropout masks, augmentation) draw their own, so they are compared
    as samples: each remedy's 5-seed mean of val/acc differs by less than a seed spread, and
    Welch's t-test finds no difference at 5 %. Baseline and weight decay are the same runs."""
    means = {}
    for name, launcher in (
        ("stacked", "hydra/launcher=stacked"),
        ("separate", "hydra/launcher=joblib"),
    ):
        folder = f"hydra.sweep.dir={tmp_path / name}"
        quiet = "callbacks.progress_bar.refresh_rate=0"
        run_module("dl101.train", "sweep=regularization", launcher, folder, quiet)
        by_remedy: dict[str, list[float]] = {}
        for run in find_runs(tmp_path / name):
            by_remedy.setdefault(run.hparams()["regularization"], []).append(run.final("val/acc"))
        means[name] = by_remedy
    for remedy in ("baseline", "weight_decay", "dropout", "augmentation"):
        together, alone = means["stacked"][remedy], means["separate"][remedy]
        assert len(together) == len(alone) == 5
        spread = max(stats.tstd(together), stats.tstd(alone))
        assert abs(stats.tmean(together) - stats.tmean(alone)) < spread, remedy
        assert stats.ttest_ind(together, alone, equal_var=False).pvalue > 0.05, remedy
        if remedy in ("baseline", "weight_decay"):
            assert sorted(together) == pytest.approx(sorted(alone), abs=1e-3)
