"""Course part IV: the output-size formula, the CNN presets, padding, and the feature-map images."""

from __future__ import annotations

import itertools
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from dl101.data.augment import BatchRandomAffine, affine_grid
from dl101.models import CNN
from dl101.models.cnn import conv_output_size, resolve_padding
from dl101.run.training import build, train
from tests.helpers import QUIET, compose_config

GRID = [
    (n, k, p, s)
    for n, k, p, s in itertools.product([5, 7, 12, 28, 31], [1, 2, 3, 5], [0, 1, 2], [1, 2, 3])
    if n + 2 * p >= k
]


@pytest.mark.parametrize(("n", "k", "p", "s"), GRID)
def test_size_formula_matches_conv_and_pooling(n, k, p, s):
    x = torch.zeros(1, 1, n, n)
    expected = conv_output_size(n, k, p, s)
    assert nn.Conv2d(1, 1, k, s, p)(x).shape[-1] == expected
    if p <= k // 2:  # PyTorch pools only allow padding up to half the window
        assert nn.MaxPool2d(k, s, p)(x).shape[-1] == expected
        assert nn.AvgPool2d(k, s, p)(x).shape[-1] == expected


def test_a_window_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        conv_output_size(4, 5, 0, 1)


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_same_padding_keeps_the_size_at_stride_1(k):
    block = {"out_channels": 4, "kernel_size": k, "padding": "same", "stride": 1}
    model = CNN([1, 28, 28], 10, [block], optimizer=partial(torch.optim.SGD, lr=0.1))
    assert model.features(torch.zeros(2, 1, 28, 28)).shape == (2, 4, 28, 28)
    assert model.layer_shapes[-1][1] == (4, 28, 28)


def test_bad_padding_is_refused():
    with pytest.raises(ValueError, match="odd kernel_size"):
        resolve_padding("same", 4)
    with pytest.raises(ValueError, match="padding='full'"):
        resolve_padding("full", 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"activation": "relu6"}, r"model.conv_blocks\[1\].activation='relu6': choose one of"),
        ({"pool": {"type": "min", "kernel_size": 2}}, r"conv_blocks\[1\].pool.type='min'"),
    ],
)
def test_a_bad_block_option_is_refused_with_its_key(change, message):
    blocks = [
        {"out_channels": 4, "kernel_size": 3},
        {"out_channels": 4, "kernel_size": 3, **change},
    ]
    with pytest.raises(ValueError, match=message):
        CNN([1, 28, 28], 10, blocks, optimizer=partial(torch.optim.SGD, lr=0.1))


@pytest.mark.parametrize("preset", ["lenet", "cnn"])
def test_presets_build_and_give_one_logit_per_class(tmp_path, preset):
    model, _ = build(compose_config(tmp_path, [f"model={preset}"]))
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_lenet_has_the_literature_shapes(tmp_path):
    model, _ = build(compose_config(tmp_path, ["model=lenet"]))
    shapes = [shape for _, shape in model.layer_shapes]
    assert shapes == [(1, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5)]
    linears = [(m.in_features, m.out_features) for m in model.head if isinstance(m, nn.Linear)]
    assert linears == [(400, 120), (120, 84), (84, 10)]


@pytest.mark.parametrize(
    "variant", ["same_maxpool", "valid_maxpool", "same_avgpool", "same_stride2"]
)
def test_sweep_variants_build(tmp_path, variant):
    cfg = compose_config(tmp_path, ["model=cnn", f"+cnn_variant={variant}"])
    model, _ = build(cfg)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_feature_maps_are_written_as_image_summaries(mnist_dir, tmp_path):
    overrides = ["experiment=lenet_mnist", "debug=limit", *QUIET]
    train(compose_config(tmp_path, overrides))
    accumulator = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    accumulator.Reload()
    tags = set(accumulator.Tags()["images"])
    assert {"filters/conv1", "feature_maps/input", "feature_maps/block1/digit0"} <= tags
    assert "feature_maps/block2/digit3" in tags
    assert (tmp_path / "figures" / "filters_conv1.png").is_file()


def test_batch_affine_is_identity_at_zero_and_keeps_the_fill():
    x = torch.rand(4, 1, 28, 28)
    assert torch.allclose(BatchRandomAffine()(x), x, atol=1e-5)
    blank = torch.full((3, 1, 28, 28), -0.42)
    moved = BatchRandomAffine(degrees=30, translate=(0.2, 0.2), scale=(0.8, 1.2), fill=-0.42)(blank)
    assert torch.allclose(moved, blank, atol=1e-5)


@pytest.mark.parametrize(("images", "height", "width"), [(1, 28, 28), (100, 28, 28), (7, 5, 9)])
def test_the_batch_affine_grid_is_torchs(images, height, width):
    theta = torch.randn(images, 2, 3, generator=torch.Generator().manual_seed(images))
    expected = F.affine_grid(theta, [images, 1, height, width], align_corners=False)
    torch.testing.assert_close(affine_grid(theta, torch.Size([height, width])), expected,
                               rtol=0, atol=1e-6)  # fmt: skip


def test_batch_affine_rotates_each_image_differently():
    torch.manual_seed(0)
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 4:24, 12:16] = 1.0  # the same vertical bar in every image
    out = BatchRandomAffine(degrees=45)(x)
    assert not torch.allclose(out[0], out[1], atol=1e-3)
    assert torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=0.1)  # rotation keeps mass
