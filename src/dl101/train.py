"""Train one model: `python -m dl101.train [group=option ...] [key=value ...]` (see
`dl101.run.training`). torch and Lightning load only once a run starts, so `--help`, `--cfg` and
shell completion answer at once."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from dl101 import CONFIG_DIR
from dl101.errors import error_boundary

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    from dl101.run import sweep_jobs
    from dl101.run.training import mark_failed, train  # torch and Lightning: once a run starts

    if HydraConfig.get().mode != RunMode.MULTIRUN:
        with error_boundary():  # a fault a user can cause or meet: one line, not a traceback
            metrics = train(cfg)
    else:
        folder = Path(HydraConfig.get().runtime.output_dir)
        state = sweep_jobs.job_state(folder)
        if state == "finished":  # a continued sweep keeps what its jobs finished
            log.info(f"Kept: {folder.name} finished before ({folder})")
            metrics = sweep_jobs.finished_metrics(folder)
            return metrics.get(cfg.get("optimized_metric")) if cfg.get("optimized_metric") else None
        if state == "failed":
            log.info(f"Kept: {folder.name} failed before ({folder / 'FAILED'})")
            return float("nan")
        cfg = sweep_jobs.resume_killed(cfg, folder)  # killed: from its last.ckpt; new: anew
        try:
            metrics = train(cfg)
        except Exception as err:
            # In a sweep a failed job is one failed trial (Optuna records NaN as a failure):
            # its folder says why, the other jobs still run, and the summary lists it.
            log.exception(f"This sweep job failed: {err}")
            mark_failed(HydraConfig.get().runtime.output_dir, err)
            return float("nan")
    # The value a Hydra sweeper optimizes.
    return metrics.get(cfg.get("optimized_metric")) if cfg.get("optimized_metric") else None


if __name__ == "__main__":
    main()
