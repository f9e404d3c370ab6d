"""What a dl101 checkpoint holds beyond weights (the run config), and reading it back."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import Callback
from pytorch_lightning.plugins import TorchCheckpointIO

from dl101.files import write_atomic
from dl101.run.ckpt_path import CheckpointError, choose_checkpoint


class RunConfigInCheckpoint(Callback):
    """Store the resolved run config in every checkpoint, so `evaluate` needs only the path."""

    key = "dl101_config"

    def __init__(self, cfg: DictConfig):
        self.config = OmegaConf.to_container(cfg, resolve=True)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[self.key] = self.config


class RNGStateInCheckpoint(Callback):
    """Save torch's global RNGs (the CPU's and every CUDA device's) with every checkpoint and
    restore them on resume, so dropout and augmentation continue as if the run had never
    stopped, on a GPU too."""

    key = "dl101_torch_rng_state"
    cuda_key = "dl101_cuda_rng_states"

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[self.key] = torch.get_rng_state()
        if torch.cuda.is_available():
            checkpoint[self.cuda_key] = torch.cuda.get_rng_state_all()

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        if self.key in checkpoint:
            torch.set_rng_state(checkpoint[self.key])
        states = checkpoint.get(self.cuda_key)
        if states and torch.cuda.is_available() and len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write each checkpoint beside its target, then rename: a run killed while saving leaves the
    previous `last.ckpt` intact instead of a truncated file that fails to load."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(path, buffer.getvalue())


def resolve_ckpt_path(
    ckpt_path: str | None, log_dir: str, task_name: str, experiment_name: str
) -> str | None:
    """`last`/`best` -> that checkpoint of the newest run (or sweep) of `experiment_name` under
    logs/<task_name>/, said in a line; a path -> itself. Either is checked now, before anything
    runs."""
    path, note = choose_checkpoint(ckpt_path, log_dir, task_name, experiment_name)
    if note:
        print(note)
    if path is not None:
        load_checkpoint(path)
    return path


def load_checkpoint(ckpt_path: str) -> dict:
    """The checkpoint's contents, or a CheckpointError saying in one line what the file is not."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise CheckpointError(f"ckpt_path={ckpt_path}: no such file (give a .ckpt of a run)")
    refused = f"ckpt_path={ckpt_path}: not a dl101/Lightning checkpoint"
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{refused} (not the zip archive that torch.save writes)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch's message suggests weights_only=False: unsafe, and no fix
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{refused} (torch.load failed: {reason[:200]})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{refused} (a torch file without a state_dict)")
    if RunConfigInCheckpoint.key not in checkpoint:
        raise CheckpointError(f"{refused} (a Lightning checkpoint without dl101's run config)")
    return checkpoint


def run_config(checkpoint: dict) -> DictConfig:
    """The training run's resolved config, stored by RunConfigInCheckpoint."""
    return OmegaConf.create(checkpoint[RunConfigInCheckpoint.key])


def restore_datamodule(checkpoint: dict, data_cfg: DictConfig):
    """The run's datamodule with the state it saved (standardization statistics, vocabulary)."""
    datamodule = instantiate(data_cfg)
    state = checkpoint.get(type(datamodule).__qualname__)
    if state:
        datamodule.load_state_dict(state)
    return datamodule
