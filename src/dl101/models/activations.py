"""The activation functions a config may name, shared by the MLP and the CNN."""

from __future__ import annotations

from torch import nn

from dl101.errors import ConfigError

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def check_activation(name: str, key: str) -> str:
    """`name` if known, else an error naming the config `key` and the choices."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"{key}={name!r}: choose one of {list(ACTIVATIONS)}")
    return name


def activation(name: str, key: str) -> nn.Module:
    """A new activation layer by its config name; `key` names the setting in errors."""
    return ACTIVATIONS[check_activation(name, key)]()
