"""A sweep's job configs composed once per choice of config groups (`ComposeOnce`, what the
stacked launcher composes with) are Hydra's own, job by job."""

from __future__ import annotations

import pytest
from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_config_search_path
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import OmegaConf

from dl101 import CONFIG_DIR
from dl101.run.sweep_configs import ComposeOnce

SWEPT_KEYS = "++hydra.job.env_set.DL101_SWEPT_KEYS='regularization seed'"  # as a sweep adds it


@pytest.fixture(scope="module")
def loader_and_master():
    hydra = Hydra.create_main_hydra2("train", create_config_search_path(CONFIG_DIR))
    loader = hydra.config_loader
    master = loader.load_configuration("train", ["sweep=regularization"], RunMode.MULTIRUN)
    master.hydra.overrides.hydra.append(SWEPT_KEYS)
    return loader, master


JOBS = [
    ["sweep=regularization", "regularization=dropout", "seed=3"],
    ["sweep=regularization", "regularization=dropout", "seed=4"],  # the same groups again
    ["sweep=regularization", "seed=5", "regularization=baseline"],  # order kept in the names
    ["sweep=regularization", "regularization=dropout", "model.optimizer.lr=0.5", "seed=1"],
    ["sweep=regularization", "model/optimizer=adam", "model.optimizer.lr=0.001", "seed=2"],
    ["sweep=regularization", "+model.note=first", "~callbacks.last_checkpoint", "seed=2"],
    ["sweep=regularization", "hydra.job.chdir=false", "seed=7", "trainer.max_steps=9"],
]


def test_each_job_is_composed_as_hydra_composes_it(loader_and_master):
    loader, master = loader_and_master
    once = ComposeOnce(loader)
    for overrides in JOBS:
        composed = once.load_sweep_config(master, overrides)
        expected = loader.load_sweep_config(master, overrides)
        assert OmegaConf.to_yaml(composed) == OmegaConf.to_yaml(expected), overrides
        composed.trainer.max_steps = -7  # a job's config is its own copy
    assert len(once.composed) == 5  # dropout, baseline, adam, none, a Hydra key


def test_an_override_it_cannot_apply_fails_as_in_hydra(loader_and_master):
    loader, master = loader_and_master
    overrides = ["sweep=regularization", "model.no_such_key=1"]
    with pytest.raises(ConfigCompositionException) as hydra_error:
        loader.load_sweep_config(master, overrides)
    with pytest.raises(ConfigCompositionException) as error:
        ComposeOnce(loader).load_sweep_config(master, overrides)
    assert str(error.value) == str(hydra_error.value)
