"""dl101: the Deep Learning 101 course as a Hydra + PyTorch Lightning research template."""

import os
import warnings
from pathlib import Path

from omegaconf import OmegaConf

_checkout = Path(__file__).resolve().parents[2]
# An editable install runs from the checkout, whose conf/ and data/ every run shares.
PROJECT_ROOT = _checkout if (_checkout / "conf").is_dir() else Path.cwd()
CONFIG_DIR = str(PROJECT_ROOT / "conf")
os.environ.setdefault("DL101_ROOT", str(PROJECT_ROOT))  # read by conf/paths as ${oc.env:DL101_ROOT}


def _job_name(num, job_overrides, keys_text, sweeper) -> str:
    from dl101.results.job_names import job_name  # Hydra's override parser: only when a sweep runs

    return job_name(num, job_overrides, keys_text, sweeper)


# Names sweep jobs in conf/hydra/default.yaml; registered wherever dl101 is imported, which every
# process that composes a job's config (a joblib or submitit worker too) has done first.
OmegaConf.register_new_resolver("dl101_job_name", _job_name, replace=True)


def _run_dir(new_dir, ckpt_path, log_dir, task_name, experiment_name) -> str:
    from dl101.run.ckpt_path import run_dir

    return run_dir(new_dir, ckpt_path, log_dir, task_name, experiment_name)


# A single run's folder (conf/hydra/default.yaml): a resumed training continues in its own.
OmegaConf.register_new_resolver("dl101_run_dir", _run_dir, replace=True)


# conf/hydra/launcher/{joblib,submitit_slurm}.yaml add to the launcher plugins' own settings by
# sharing their names (Hydra's schema matching, still supported by Hydra 1.3, which otherwise
# says at every sweep that it is deprecated).
warnings.filterwarnings("ignore", r"\s*'hydra/launcher/\w+' is validated against ConfigStore")


def _side_by_side_jobs() -> int:
    from dl101.run.gpus import default_jobs  # torch: only when a joblib sweep starts

    return default_jobs()


# The joblib launcher's n_jobs (conf/hydra/launcher/joblib.yaml): one job per GPU on a machine
# with several, else one per core.
OmegaConf.register_new_resolver("dl101_side_by_side_jobs", _side_by_side_jobs, replace=True)


def _work_dir(checkout) -> str:
    """Where runs keep their `logs/`: the checkout for a run started inside it, else the folder
    the run is started from (Hydra's and lightning-hydra-template's convention)."""
    cwd, checkout = Path.cwd().resolve(), Path(checkout).resolve()
    return str(checkout if cwd.is_relative_to(checkout) else cwd)


# conf/paths: `log_dir` beside the user's work (DL101_LOG_DIR: anywhere else).
OmegaConf.register_new_resolver("dl101_work_dir", _work_dir, replace=True)
