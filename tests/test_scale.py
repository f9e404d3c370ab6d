"""Scale-out: DDP sharding, parallel and cluster launchers, hyper-parameter search."""

from __future__ import annotations

import pytest
from hydra.utils import instantiate
from lightning_fabric.utilities.distributed import DistributedSamplerWrapper
from omegaconf import OmegaConf

from dl101.data.batching import EpochShuffleSampler
from tests.helpers import compose_config, run_module, scalars

QUICK = ["debug=limit", "callbacks.progress_bar.refresh_rate=0"]


def final_scalar(run_dir, tag: str) -> float:
    return scalars(run_dir)[tag][-1][1]


def test_each_rank_sees_a_disjoint_share_of_every_epoch():
    """What Lightning does to our sampler under DDP: wrap it in a DistributedSamplerWrapper."""
    size, seen_by_epoch = 1000, []
    for epoch in range(2):
        shares = []
        for rank in range(2):
            sampler = DistributedSamplerWrapper(
                EpochShuffleSampler(size, seed=3), num_replicas=2, rank=rank
            )
            sampler.set_epoch(epoch)
            shares.append(list(sampler))
        assert len(shares[0]) == len(shares[1]) == size // 2
        assert set(shares[0]).isdisjoint(shares[1])
        assert set(shares[0]) | set(shares[1]) == set(range(size))
        seen_by_epoch.append(shares[0])
    assert seen_by_epoch[0] != seen_by_epoch[1]  # reshuffled between epochs


def test_ddp_and_cluster_configs_compose(tmp_path):
    cfg = compose_config(tmp_path, ["trainer=ddp", "trainer.accelerator=cpu"])
    assert (cfg.trainer.strategy, cfg.trainer.devices, cfg.trainer.num_nodes) == ("ddp", 2, 1)
    trainer = instantiate(cfg.trainer)
    assert trainer.world_size == 2 and type(trainer.strategy).__name__ == "DDPStrategy"
    slurm = compose_config(
        tmp_path, ["hydra/launcher=submitit_slurm"], keep_hydra=True
    ).hydra.launcher
    assert slurm._target_.endswith("SlurmLauncher")
    assert (slurm.partition, slurm.nodes, slurm.tasks_per_node, slurm.gpus_per_node) == (
        "gpu",
        1,
        1,
        1,
    )
    assert slurm.timeout_min == 240 and slurm.array_parallelism == 16


def test_joblib_runs_two_jobs_in_parallel_with_their_own_folders(mnist_dir, tmp_path):
    run_module(
        "dl101.train",
        "-m",
        "hydra/launcher=joblib",
        "seed=1,2",
        *QUICK,
        f"hydra.sweep.dir={tmp_path}",
    )
    jobs = sorted(p.name for p in tmp_path.iterdir() if (p / ".hydra").is_dir())
    assert jobs == ["seed=1", "seed=2"]
    for job in jobs:
        assert 0 < final_scalar(tmp_path / job, "test/acc") <= 1
    # two processes on two cores: each job was given one torch thread
    log = "".join(p.read_text() for p in tmp_path.glob("*/train.log"))
    assert log.count("torch threads: 1") == 2


@pytest.mark.slow  # launcher/subprocess plumbing: a dozen seconds
def test_submitit_local_runs_two_jobs(mnist_dir, tmp_path):
    run_module("dl101.train", "-m", "hydra/launcher=submitit_local", "seed=1,2", *QUICK,
               f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    for job in ("seed=1", "seed=2"):
        assert 0 < final_scalar(tmp_path / job, "test/acc") <= 1


@pytest.mark.slow  # launcher/subprocess plumbing: a dozen seconds
def test_optuna_search_writes_its_results(mnist_dir, tmp_path):
    run_module("dl101.train", "hparams_search=optuna", "hydra.sweeper.n_trials=3", *QUICK,
               f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    results = OmegaConf.load(tmp_path / "optimization_results.yaml")
    assert set(results.best_params) == {"model.optimizer.lr", "model.optimizer.weight_decay",
                                        "model.dropout", "model_width"}  # fmt: skip
    assert 0 < results.best_value <= 1
    trials = sorted(p.name for p in tmp_path.iterdir() if (p / ".hydra").is_dir())
    assert [name[:4] for name in trials] == ["000_", "001_", "002_"]  # trial number, then values
    assert all("lr=" in name and "model_width=" in name for name in trials)


def test_a_diverging_sweep_job_fails_alone(mnist_dir, tmp_path):
    result = run_module("dl101.train", "-m", "model=mlp", "model.optimizer.lr=1e8,0.01", *QUICK,
                        f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    assert "became nan" in result.stdout + result.stderr
    assert 0 < final_scalar(tmp_path / "lr=0.01", "test/acc") <= 1  # the healthy job still ran
    assert (tmp_path / "lr=1e+08" / "FAILED").read_text().startswith("NonFiniteLossError")
    assert "failed: lr=1e+08: NonFiniteLossError" in result.stdout  # the summary lists it


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(mnist_dir, tmp_path):
    common = ["model=mlp", "data.train_subset=20000", "trainer.max_epochs=5", "seed=1",
              "trainer.accelerator=cpu", "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip
    run_module(
        "dl101.train",
        *common,
        "trainer=ddp",
        "data.batch_size=64",
        f"hydra.run.dir={tmp_path / 'ddp'}",
    )
    run_module("dl101.train", *common, "data.batch_size=128", f"hydra.run.dir={tmp_path / 'one'}")
    ddp, one = (final_scalar(tmp_path / name, "val/acc") for name in ("ddp", "one"))
    assert abs(ddp - one) <= 0.005, (ddp, one)
    assert final_scalar(tmp_path / "ddp", "test/acc") > 0.85
