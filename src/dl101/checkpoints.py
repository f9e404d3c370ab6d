"""What a dl101 checkpoint holds beyond weights (the run config), and reading it back."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import Callback
from pytorch_lightning.plugins import TorchCheckpointIO

from dl101.files import write_atomic


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


def resolve_ckpt_path(ckpt_path: str | None, log_dir: str, task_name: str) -> str | None:
    """`last` -> the newest `last.ckpt` under logs/<task_name>/; a path -> itself, checked."""
    if ckpt_path is None:
        return None
    if ckpt_path == "last":
        candidates = list((Path(log_dir) / task_name).glob("**/checkpoints/last.ckpt"))
        if not candidates:
            raise FileNotFoundError(
                f"ckpt_path=last: no last.ckpt under {Path(log_dir) / task_name}; "
                "give the checkpoint's path instead"
            )
        ckpt_path = str(max(candidates, key=lambda p: p.stat().st_mtime))
    load_checkpoint(ckpt_path)  # a clear error now rather than a traceback inside fit
    return ckpt_path


def load_checkpoint(ckpt_path: str) -> dict:
    """The checkpoint's contents, or an error saying what is wrong with the path."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={ckpt_path}: no such file (give a .ckpt of a run)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"ckpt_path={ckpt_path}: not a readable checkpoint ({err})") from err
    if not isinstance(checkpoint, dict) or RunConfigInCheckpoint.key not in checkpoint:
        raise ValueError(f"ckpt_path={ckpt_path}: not a dl101 checkpoint (it has no run config)")
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
