"""The private library behaviour dl101 relies on (`dl101.internals`) is still there: each test
names the API, so an upgrade that removes one fails here, saying which."""

from __future__ import annotations

import inspect

from hydra.utils import get_class
from pytorch_lightning import Callback, LightningModule
from pytorch_lightning.loops import training_epoch_loop
from pytorch_lightning.trainer import call

from dl101.internals import (
    BASIC_SWEEPER,
    BATCH_HOOKS,
    LIGHTNING_HOOK_NAME,
    QuickHookName,
    hide_unused_batch_hooks,
)


def test_lightning_sets_its_hook_name_attribute_and_the_mixin_stores_it_plainly():
    assert LIGHTNING_HOOK_NAME in vars(LightningModule())  # Lightning's private attribute

    class Module(QuickHookName, LightningModule):
        pass

    module = Module()
    setattr(module, LIGHTNING_HOOK_NAME, "training_step")
    assert module.__dict__[LIGHTNING_HOOK_NAME] == "training_step"
    module.weight_name = "w"  # anything else still goes through nn.Module
    assert "weight_name" in module.__dict__


def test_lightning_skips_a_callback_hook_that_is_not_callable():
    assert "callable(fn)" in inspect.getsource(call._call_callback_hooks)
    assert all(hasattr(Callback, hook) for hook in BATCH_HOOKS)  # every name is a real hook

    class Counting(Callback):
        def on_train_batch_end(self, *args) -> None:
            pass

    (callback,) = hide_unused_batch_hooks([Counting()])
    assert callback.on_train_batch_start is None and callable(callback.on_train_batch_end)


def test_the_training_loop_reads_check_val_every_n_epoch_to_decide_a_validation():
    """`validate_now` sets it to None; its effect, a validation of the final weights, is
    tested in tests/test_train.py."""
    loop = inspect.getsource(training_epoch_loop)
    assert "self.trainer.check_val_every_n_epoch is None" in loop


def test_hydras_basic_sweeper_lives_at_the_path_its_jobs_are_named_by():
    assert get_class(BASIC_SWEEPER).__name__ == "BasicSweeper"
