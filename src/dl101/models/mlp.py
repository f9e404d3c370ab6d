"""The course's multi-layer perceptron (`MNISTClassifier`, `MNISTClassifierWithDropout`),
generalized: any depth, activation, dropout before every linear layer (input included), init."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from dl101.errors import ConfigError
from dl101.models.activations import activation as make_activation
from dl101.models.activations import check_activation
from dl101.models.base import Classifier

INITS = ("default", "normal", "xavier", "kaiming")


def init_linear(layer: nn.Linear, scheme: str, std: float, activation: str) -> None:
    """Initialize one layer's weights by `scheme`; biases start at zero except for `default`."""
    if scheme == "default":  # PyTorch's own: kaiming-uniform(a=sqrt(5)) weights and biases
        return
    if scheme == "normal":
        nn.init.normal_(layer.weight, std=std)
    elif scheme == "xavier":
        nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain(activation))
    elif scheme == "kaiming":
        nonlinearity = "relu" if activation == "relu" else "linear"
        nn.init.kaiming_normal_(layer.weight, nonlinearity=nonlinearity)
    nn.init.zeros_(layer.bias)


class MLP(Classifier):
    def __init__(
        self,
        input_shape: list[int],
        num_classes: int,
        hidden_sizes: list[int],
        activation: str = "relu",
        dropout: float | list[float] = 0.0,
        init: str = "default",
        init_std: float = 0.01,
        **classifier_args,
    ):
        super().__init__(num_classes=num_classes, **classifier_args)
        check_activation(activation, "model.activation")
        if init not in INITS:
            raise ConfigError(f"model.init={init!r}: choose one of {list(INITS)}")
        sizes = [math.prod(input_shape), *hidden_sizes, num_classes]
        rates = list(dropout) if isinstance(dropout, Sequence) else [dropout] * (len(sizes) - 1)
        if len(rates) != len(sizes) - 1:
            raise ConfigError(
                f"model.dropout has {len(rates)} rates; give one, or one per linear layer "
                f"({len(sizes) - 1}: the input and each hidden layer)"
            )
        for p in rates:
            if not 0 <= p < 1:
                raise ConfigError(f"model.dropout={p}: a dropout probability must be in [0, 1)")
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            if rates[i] > 0:
                layers.append(nn.Dropout(rates[i]))
            linear = nn.Linear(n_in, n_out)
            init_linear(linear, init, init_std, activation)
            layers.append(linear)
            if i < len(sizes) - 2:
                layers.append(make_activation(activation, "model.activation"))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # (B, 1, 28, 28) -> (B, 784) -> ... -> (B, 10)
