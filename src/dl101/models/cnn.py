"""Convolutional networks built from config: conv blocks (convolution, activation, optional
pooling) and a fully connected head whose input size is computed from the conv stack."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor, nn

from dl101.errors import ConfigError
from dl101.models.activations import activation
from dl101.models.base import Classifier

POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def conv_output_size(n: int, kernel_size: int, padding: int = 0, stride: int = 1) -> int:
    """Output length of a convolution or pooling along one axis: floor((n + 2p - k) / s) + 1."""
    size = (n + 2 * padding - kernel_size) // stride + 1
    if size < 1:
        raise ConfigError(
            f"a {kernel_size}x{kernel_size} window with padding {padding}, stride {stride} does "
            f"not fit an input of size {n}: reduce the conv/pool stack or add padding"
        )
    return size


def resolve_padding(padding: int | str, kernel_size: int) -> int:
    """`valid` = no padding; `same` = (k - 1) / 2, which keeps the size at stride 1 (odd k)."""
    if padding == "valid":
        return 0
    if padding == "same":
        if kernel_size % 2 == 0:
            raise ConfigError(f"padding='same' needs an odd kernel_size, got {kernel_size}")
        return (kernel_size - 1) // 2
    if isinstance(padding, int) and padding >= 0:
        return padding
    raise ConfigError(f"padding={padding!r}: use an int >= 0, 'same' or 'valid'")


Shape = tuple[int, int, int]  # (channels, height, width)


def pooling(pool: dict, shape: Shape, key: str) -> tuple[nn.Module, Shape]:
    """Course IV C: a max or average pooling layer over k x k windows (stride k unless given),
    and the shape of its output."""
    if pool["type"] not in POOLS:
        raise ConfigError(f"{key}.pool.type={pool['type']!r}: choose one of {list(POOLS)}")
    kernel = pool["kernel_size"]
    stride = pool.get("stride") or kernel
    channels, height, width = shape
    out = (
        channels,
        conv_output_size(height, kernel, 0, stride),
        conv_output_size(width, kernel, 0, stride),
    )
    return POOLS[pool["type"]](kernel, stride), out


def conv_block(
    block: dict, shape: Shape, key: str
) -> tuple[nn.Sequential, list[tuple[str, Shape]]]:
    """Course IV A-C: a convolution (`out_channels` filters of kernel_size x kernel_size over
    every input channel, with its padding and stride), an activation, optionally batch norm,
    pooling and channel dropout; and the name and output shape of its conv and pooling layers."""
    kernel, stride = block["kernel_size"], block.get("stride", 1)
    padding = resolve_padding(block.get("padding", 0), kernel)
    channels, height, width = shape
    layers: list[nn.Module] = [nn.Conv2d(channels, block["out_channels"], kernel, stride, padding)]
    shape = (
        block["out_channels"],
        conv_output_size(height, kernel, padding, stride),
        conv_output_size(width, kernel, padding, stride),
    )
    shapes = [(f"conv {kernel}x{kernel} p{padding} s{stride}", shape)]
    if block.get("batch_norm", False):
        layers.append(nn.BatchNorm2d(shape[0]))
    layers.append(activation(block.get("activation", "relu"), f"{key}.activation"))
    if pool := block.get("pool"):
        layer, shape = pooling(pool, shape, key)
        layers.append(layer)
        shapes.append(
            (f"{pool['type']}pool {layer.kernel_size}x{layer.kernel_size} s{layer.stride}", shape)
        )
    if block.get("dropout", 0.0) > 0:
        layers.append(nn.Dropout2d(block["dropout"]))
    return nn.Sequential(*layers), shapes


def dense_head(
    shape: Shape, hidden_sizes: Sequence[int], num_classes: int, dropout: float
) -> nn.Sequential:
    """Course IV D: the last feature map flattened, then an MLP (ReLU, optional dropout) to one
    logit per class."""
    sizes = [math.prod(shape), *hidden_sizes]
    layers: list[nn.Module] = [nn.Flatten()]
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-1], num_classes))
    return nn.Sequential(*layers)


class CNN(Classifier):
    """Conv blocks (`features`), then a fully connected head (`head`) whose input size is
    computed from the blocks' output shapes (`layer_shapes`), never typed in a config."""

    def __init__(
        self,
        input_shape: list[int],
        num_classes: int,
        conv_blocks: Sequence[dict],
        head_hidden_sizes: Sequence[int] = (),
        head_dropout: float = 0.0,
        **classifier_args,
    ):
        super().__init__(num_classes=num_classes, **classifier_args)
        shape = tuple(input_shape)
        self.layer_shapes: list[tuple[str, Shape]] = [("input", shape)]
        blocks = []
        for i, block in enumerate(conv_blocks):
            layers, shapes = conv_block(block, shape, f"model.conv_blocks[{i}]")
            blocks.append(layers)
            self.layer_shapes += [(f"block{i + 1} {name}", out) for name, out in shapes]
            shape = shapes[-1][1]
        self.features = nn.Sequential(*blocks)
        self.head = dense_head(shape, head_hidden_sizes, num_classes, head_dropout)
        # Lets Lightning's model summary show every layer's input and output sizes.
        self.example_input_array = torch.zeros(1, *input_shape)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))  # (B, C, H, W) -> (B, C', H', W') -> (B, 10)

    def shape_table(self) -> Table:
        """The output size of every conv and pooling layer, from `conv_output_size`."""
        table = Table(title="Feature map sizes (C x H x W)")
        table.add_column("layer")
        table.add_column("output", justify="right")
        table.add_column("values", justify="right")
        for name, shape in self.layer_shapes:
            table.add_row(name, " x ".join(map(str, shape)), f"{math.prod(shape):,}")
        return table

    def on_fit_start(self) -> None:
        Console().print(self.shape_table())
