"""Convolutional networks built from config: conv blocks (convolution, activation, optional
pooling) and a fully connected head whose input size is computed from the conv stack."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor, nn

from dl101.models.activations import activation
from dl101.models.base import Classifier

POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def conv_output_size(n: int, kernel_size: int, padding: int = 0, stride: int = 1) -> int:
    """Output length of a convolution or pooling along one axis: floor((n + 2p - k) / s) + 1."""
    size = (n + 2 * padding - kernel_size) // stride + 1
    if size < 1:
        raise ValueError(
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
            raise ValueError(f"padding='same' needs an odd kernel_size, got {kernel_size}")
        return (kernel_size - 1) // 2
    if isinstance(padding, int) and padding >= 0:
        return padding
    raise ValueError(f"padding={padding!r}: use an int >= 0, 'same' or 'valid'")


class CNN(Classifier):
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
        channels, height, width = input_shape
        self.layer_shapes: list[tuple[str, tuple[int, int, int]]] = [
            ("input", (channels, height, width))
        ]
        blocks = []
        for i, block in enumerate(conv_blocks):
            kernel, stride = block["kernel_size"], block.get("stride", 1)
            padding = resolve_padding(block.get("padding", 0), kernel)
            layers: list[nn.Module] = [
                nn.Conv2d(channels, block["out_channels"], kernel, stride, padding)
            ]
            channels = block["out_channels"]
            height = conv_output_size(height, kernel, padding, stride)
            width = conv_output_size(width, kernel, padding, stride)
            self.layer_shapes.append(
                (f"conv{i + 1} {kernel}x{kernel} p{padding} s{stride}", (channels, height, width))
            )
            if block.get("batch_norm", False):
                layers.append(nn.BatchNorm2d(channels))
            name = block.get("activation", "relu")
            layers.append(activation(name, f"model.conv_blocks[{i}].activation"))
            if pool := block.get("pool"):
                pool_kernel = pool["kernel_size"]
                pool_stride = pool.get("stride") or pool_kernel
                if pool["type"] not in POOLS:
                    raise ValueError(
                        f"model.conv_blocks[{i}].pool.type={pool['type']!r}: "
                        f"choose one of {list(POOLS)}"
                    )
                layers.append(POOLS[pool["type"]](pool_kernel, pool_stride))
                height = conv_output_size(height, pool_kernel, 0, pool_stride)
                width = conv_output_size(width, pool_kernel, 0, pool_stride)
                self.layer_shapes.append(
                    (
                        f"{pool['type']}pool {pool_kernel}x{pool_kernel} s{pool_stride}",
                        (channels, height, width),
                    )
                )
            if block.get("dropout", 0.0) > 0:
                layers.append(nn.Dropout2d(block["dropout"]))
            blocks.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*blocks)

        sizes = [channels * height * width, *head_hidden_sizes]
        head: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            head += [nn.Linear(n_in, n_out), nn.ReLU()]
            if head_dropout > 0:
                head.append(nn.Dropout(head_dropout))
        head.append(nn.Linear(sizes[-1], num_classes))
        self.head = nn.Sequential(*head)
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
