"""Every config of every group composes and instantiates."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from dl101 import CONFIG_DIR
from dl101.data import model_args
from dl101.run.training import instantiate_group, run_callbacks
from tests.helpers import compose_config

CONF = Path(CONFIG_DIR)
# Groups chosen with `group=option`; hydra/ and paths/ are composed into every run anyway.
GROUPS = [
    "data",
    "model",
    "model/optimizer",
    "model/scheduler",
    "trainer",
    "logger",
    "callbacks",
    "experiment",
    "debug",
]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


CASES = [(group, option) for group in GROUPS for option in options(group)]
# Options that only make sense with other data than the default MNIST.
COMPANIONS = {
    "model=rnn_lm": ["data=text"],
    "data=text": ["model=rnn_lm"],
    "model=linear_regression": ["data=synthetic_regression"],
    "data=synthetic_regression": ["model=linear_regression"],
    "data=houses_price": ["model=linear_regression"],
}


def companions(choice: str, tmp_path: Path) -> list[str]:
    """What a choice needs beside it; for one's own pictures, a small folder of them."""
    if choice != "data=image_folder":
        return COMPANIONS.get(choice, [])
    from PIL import Image

    for name in ("cat", "dog"):
        (tmp_path / "pictures" / name).mkdir(parents=True)
        Image.new("RGB", (32, 24)).save(tmp_path / "pictures" / name / "a.png")
    return [f"data.root={tmp_path / 'pictures'}"]


def test_every_group_has_options():
    assert all(options(group) for group in GROUPS)


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_config_composes_and_instantiates(tmp_path, group, option):
    choice = f"{group}={option}"
    cfg = compose_config(tmp_path, [choice, *companions(choice, tmp_path)])
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        pytest.skip("composes; instantiating a GPU trainer needs a GPU")
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model, **model_args(datamodule, cfg.model))
    callbacks = run_callbacks(cfg, model)
    loggers = instantiate_group(cfg.get("logger"), "logger")
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    assert datamodule.batch_size > 0
    assert sum(p.numel() for p in model.parameters()) > 0
    assert trainer.max_epochs != 0
    model.trainer = trainer
    assert model.configure_optimizers() is not None


def test_eval_config_requires_ckpt_path(tmp_path):
    cfg = compose_config(tmp_path, ["ckpt_path=some.ckpt"], config_name="eval")
    assert cfg.ckpt_path == "some.ckpt"
    instantiate(cfg.trainer)


def test_unknown_option_lists_the_choices(tmp_path):
    with pytest.raises(Exception, match="softmax_regression"):
        compose_config(tmp_path, ["model=softmax_regresion"])


def test_an_adjustment_without_its_entry_is_refused_clearly(tmp_path):
    # course_softmax_houses adjusts callbacks.model_checkpoint; callbacks=none removes the entry.
    cfg = compose_config(tmp_path, ["experiment=course_softmax_houses", "callbacks=none"])
    with pytest.raises(ValueError, match=r"callbacks.model_checkpoint has no _target_: it sets "
                       r"\['mode', 'monitor'\].*~callbacks.model_checkpoint"):  # fmt: skip
        instantiate_group(cfg.callbacks, "callbacks")
