"""On a CUDA GPU (scripts/gpu_check.sh runs these with `-m gpu`): the data held on the device,
bf16-mixed training, and an exact resume after a kill. Skipped, saying why, without a GPU."""

from __future__ import annotations

import pytest
import torch

from dl101.data import MNISTDataModule
from dl101.run.checkpoints import load_checkpoint
from dl101.run.training import train
from tests.helpers import QUIET, compose_config, kill_at_step
from tests.test_reliability import COMPARED, KILL_STEP, RESUMABLE

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="no CUDA GPU: torch.cuda.is_available() is False"
    ),
]
GPU = ["trainer=gpu", *QUIET]


def test_batches_are_sliced_on_the_gpu(mnist_dir):
    dm = MNISTDataModule(str(mnist_dir), train_subset=256, batch_size=32)
    dm.trainer = type("T", (), {"strategy": type("S", (), {"root_device": torch.device("cuda")})})
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.is_cuda and y.is_cuda and x.shape == (32, 1, 28, 28)


def test_bf16_mixed_trains(mnist_dir, tmp_path):
    cfg = compose_config(
        tmp_path,
        ["experiment=course_rnn", "trainer.precision=bf16-mixed", "trainer.max_epochs=1", *GPU],
    )
    metrics = train(cfg)
    assert metrics["val/acc"] > 0.8  # 1 epoch of fp32 reaches about 0.9; a broken cast, 0.1


def test_killed_gpu_run_resumes_to_the_metrics_of_an_uninterrupted_one(mnist_dir, tmp_path):
    """Dropout and augmentation draw on the GPU: an exact resume needs the CUDA RNG state."""
    uninterrupted = train(compose_config(tmp_path / "a", [*RESUMABLE, *GPU]))
    last = kill_at_step([*RESUMABLE, "trainer=gpu"], tmp_path / "b", step=KILL_STEP)
    assert load_checkpoint(str(last))["epoch"] == 0
    cfg = compose_config(tmp_path / "c", [*RESUMABLE, f"ckpt_path={last}", *GPU])
    resumed = train(cfg)
    for name in COMPARED:
        assert resumed[name] == pytest.approx(uninterrupted[name], abs=1e-6), name
