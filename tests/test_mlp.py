"""Course part III: the MLP, its options, backprop by hand, and the overfitting data."""

from __future__ import annotations

import itertools
import math
from functools import partial
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from dl101.data import MNISTDataModule
from dl101.models import MLP
from dl101.models.backprop import forward_backward
from dl101.run.training import train
from tests.helpers import QUIET, compose_config, scalars


def mlp(**kwargs) -> MLP:
    args = {"input_shape": [1, 28, 28], "num_classes": 10, "hidden_sizes": [50, 20]}
    return MLP(**{**args, **kwargs}, optimizer=partial(torch.optim.SGD, lr=0.1))


def test_default_is_the_courses_mnist_classifier():
    model = mlp()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 50), (50, 20), (20, 10)]
    assert sum(p.numel() for p in model.parameters()) == 40480
    assert model(torch.randn(7, 1, 28, 28)).shape == (7, 10)


def test_dropout_sits_before_each_linear_layer_as_in_the_course():
    kinds = [type(m).__name__ for m in mlp(dropout=[0.4, 0.4, 0.4]).net]
    assert kinds == ["Flatten", "Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU",
                     "Dropout", "Linear"]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dropout": 1.0}, "model.dropout=1.0"),
        ({"dropout": -0.1}, "model.dropout=-0.1"),
        ({"dropout": [0.1, 0.2]}, "one per linear layer"),
        ({"activation": "gelu"}, "model.activation='gelu'"),
        ({"init": "orthogonal"}, "model.init='orthogonal'"),
    ],
)
def test_bad_options_are_refused_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        mlp(**kwargs)


@pytest.mark.parametrize(
    ("init", "expected_std"),
    [
        ("normal", 0.05),
        ("xavier", math.sqrt(2) * math.sqrt(2 / (784 + 512))),  # gain sqrt(2) for ReLU
        ("kaiming", math.sqrt(2 / 784)),
    ],
)
def test_init_schemes_give_their_weight_scale(init, expected_std):
    model = mlp(hidden_sizes=[512], init=init, init_std=0.05)
    first = model.net[1]
    assert first.weight.std().item() == pytest.approx(expected_std, rel=0.05)
    assert torch.count_nonzero(first.bias) == 0


@pytest.mark.parametrize(
    ("activation", "init"),
    itertools.product(["relu", "sigmoid", "tanh"], ["default", "normal", "xavier", "kaiming"]),
)
def test_every_activation_and_init_trains_a_few_steps(activation, init):
    torch.manual_seed(0)
    model = mlp(activation=activation, init=init, dropout=0.2)
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(3):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.isfinite(loss)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_backprop_by_hand_equals_autograd(activation):
    torch.manual_seed(1)
    model = mlp(hidden_sizes=[16, 8], activation=activation).double()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    x, y = torch.randn(12, 784, dtype=torch.float64), torch.randint(0, 10, (12,))
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    weights = [m.weight.detach() for m in linears]
    biases = [m.bias.detach() for m in linears]
    manual_loss, grad_w, grad_b = forward_backward(x, y, weights, biases, activation)
    assert manual_loss.item() == pytest.approx(loss.item(), abs=1e-10)
    for layer, gw, gb in zip(linears, grad_w, grad_b, strict=True):
        assert torch.allclose(gw, layer.weight.grad, atol=1e-6, rtol=0)
        assert torch.allclose(gb, layer.bias.grad, atol=1e-6, rtol=0)


def tiny(mnist_dir, **kwargs) -> MNISTDataModule:
    args = {"train_slice": [0, 20], "val_slice": [100, 5100], "batch_size": 20}
    datamodule = MNISTDataModule(str(mnist_dir), normalize=False, **{**args, **kwargs})
    datamodule.setup("fit")
    return datamodule


def test_mnist_tiny_is_the_courses_20_and_5000_images(mnist_dir):
    datamodule = tiny(mnist_dir, eval_train_set=True)
    train_idx, val_idx = datamodule.split_indices()
    assert train_idx.tolist() == list(range(20)) and val_idx.tolist() == list(range(100, 5100))
    assert (len(datamodule.train_set), len(datamodule.val_set)) == (20, 5000)
    assert [len(loader.dataset) for loader in datamodule.val_dataloader()] == [5000, 20]


def test_overlapping_slices_are_refused(mnist_dir):
    with pytest.raises(ValueError, match="overlaps"):
        MNISTDataModule(str(mnist_dir), train_slice=[0, 200], val_slice=[100, 5100])


def test_augmentation_changes_pixels_not_labels(mnist_dir):
    augment = {"degrees": 10, "translate": [0.1, 0.1], "scale": [0.9, 1.1]}
    datamodule = tiny(mnist_dir, augment=augment)
    batch = (datamodule.train_set.x, datamodule.train_set.y)
    datamodule.trainer = SimpleNamespace(training=False)
    assert datamodule.on_after_batch_transfer(batch, 0) is batch  # never at evaluation
    datamodule.trainer = SimpleNamespace(training=True)
    x, y = datamodule.on_after_batch_transfer(batch, 0)
    assert torch.equal(y, batch[1]) and x.shape == batch[0].shape
    changed = (x - batch[0]).abs().flatten(1).sum(1) > 1
    assert changed.all()  # every image moved, each by its own random affine


def test_gradient_flow_is_logged_per_layer(mnist_dir, tmp_path):
    overrides = ["experiment=stability", "trainer.max_steps=30", "data.train_subset=512",
                 "model.activation=sigmoid", "model.init=xavier", *QUIET]  # fmt: skip
    train(compose_config(tmp_path, overrides))
    logged = scalars(tmp_path)
    layers = sorted(tag for tag in logged if tag.startswith("grad_norm/layer"))
    assert len(layers) == 9  # 8 hidden layers + the output layer
    assert [step for step, _ in logged["grad_norm/layer01"]] == [0, 25]
    ((_, ratio),) = logged["grad_flow/first_over_last_at_init"]
    assert ratio < 1e-2  # sigmoid through 8 layers: vanishing
