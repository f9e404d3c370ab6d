"""The shared classifier base and the softmax regression model."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from dl101.models import SoftmaxRegression


def make(lr: float = 0.1, scheduler=None) -> SoftmaxRegression:
    return SoftmaxRegression(
        input_shape=[1, 28, 28],
        num_classes=10,
        optimizer=partial(torch.optim.SGD, lr=lr),
        scheduler=scheduler,
    )


def test_forward_gives_one_logit_per_class():
    assert make()(torch.randn(4, 1, 28, 28)).shape == (4, 10)


def test_softmax_regression_is_the_courses_linear_model():
    model = make()
    x = torch.randn(3, 1, 28, 28)
    expected = x.view(3, 784) @ model.linear.weight.T + model.linear.bias
    assert torch.allclose(model(x), expected, atol=1e-6)
    assert sum(p.numel() for p in model.parameters()) == 784 * 10 + 10


@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_non_positive_learning_rate_is_refused(lr):
    with pytest.raises(ValueError, match=f"model.optimizer.lr={lr}"):
        make(lr=lr)


def test_optimizer_and_scheduler_come_from_partials():
    model = make(scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=1))
    config = model.configure_optimizers()
    assert isinstance(config["optimizer"], torch.optim.SGD)
    assert config["optimizer"].param_groups[0]["lr"] == 0.1
    assert isinstance(config["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.StepLR)


def test_each_stage_has_its_own_accuracy_metric():
    model = make()
    assert len({id(model.train_acc), id(model.val_acc), id(model.test_acc)}) == 3
