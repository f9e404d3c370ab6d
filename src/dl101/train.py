"""Train one model: `python -m dl101.train [group=option ...] [key=value ...]` (see
`dl101.run.training`). torch and Lightning load only once a run starts, so `--help`, `--cfg` and
shell completion answer at once."""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from dl101 import CONFIG_DIR
from dl101.errors import error_boundary


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        from dl101.run.sweeps import run_sweep_job

        metrics = run_sweep_job(cfg)  # a failed job is one failed trial: NaN to a sweeper
        if metrics is None:
            return float("nan")
    else:
        from dl101.run.training import train  # torch and Lightning: once a run starts

        with error_boundary():  # a fault a user can cause or meet: one line, not a traceback
            metrics = train(cfg)
    # The value a Hydra sweeper optimizes.
    return metrics.get(cfg.get("optimized_metric")) if cfg.get("optimized_metric") else None


if __name__ == "__main__":
    main()
