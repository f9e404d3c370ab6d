"""Compose a run's config in-process, as `python -m dl101.train` would, for code that calls
`train()` directly (benchmarks, tests, notebooks), and set a run up as Hydra's launcher does."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from dl101 import CONFIG_DIR
from dl101.sweep_names import SWEPT_KEYS_VAR


def compose_config(
    output_dir: Path, overrides=(), config_name: str = "train", keep_hydra: bool = False
) -> DictConfig:
    """The composed config with this run's outputs (and `logs/`) under `output_dir`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name, overrides=list(overrides), return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.log_dir = str(Path(output_dir) / "logs")
        if not keep_hydra:
            del cfg.hydra
    return cfg


def start_run(
    overrides=(), output_dir: Path | None = None, job_num: int | None = None, swept=()
) -> DictConfig:
    """The config of `python -m dl101.train overrides`, its run set up as Hydra's launcher sets
    a job up: its folder (`hydra.run.dir` unless `output_dir`, a sweep job's), the config,
    Hydra's config and the overrides saved in `.hydra/`, HydraConfig set. `train(cfg)` then
    writes what the command line writes, and the run reads back like one of its runs."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    output_dir = Path(output_dir or cfg.hydra.run.dir)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        if job_num is not None:  # what the sweep summary reads: job number, swept keys
            cfg.hydra.job.num = job_num
            cfg.hydra.job.env_set[SWEPT_KEYS_VAR] = " ".join(swept)
    HydraConfig().set_config(cfg)
    saved = output_dir / ".hydra"
    saved.mkdir(parents=True, exist_ok=True)
    OmegaConf.save({key: cfg[key] for key in cfg if key != "hydra"}, saved / "config.yaml")
    OmegaConf.save({"hydra": cfg.hydra}, saved / "hydra.yaml")
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    task = [o.input_line for o in parsed if not o.is_hydra_override()]  # as Hydra saves them
    OmegaConf.save(task, saved / "overrides.yaml")
    with open_dict(cfg):
        del cfg.hydra  # as in a Hydra job: HydraConfig holds it
    return cfg
