"""Every value of a run's config checked against the type that reads it, before anything is
built: each `_target_`'s constructor declares its arguments' types (the model's, the data's,
the trainer's, each callback's and logger's), and the run's own keys are typed here. A wrong
type (`data.batch_size=1.5`, `trainer.max_epochs=ten`, `seed=abc`) is refused in one line that
names the key, the value and the expected type; ranges stay with the code that knows them.

The types come from the code, not from a second copy: a model of one's own is checked by its
own annotations."""

from __future__ import annotations

import collections.abc
import inspect
import os
import types
import typing
from typing import Any, Literal, Union

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from dl101.errors import ConfigError, locate

# The run's own keys (conf/train.yaml): what reads them is dl101's, not a constructor.
RUN_KEYS = {
    "seed": int | None,
    "compile": bool,
    "test": bool,
    "threads": int | Literal["auto"] | None,
    "ckpt_path": str | None,
    "task_name": str,
    "experiment_name": str,
}
# Instantiation's own keys, not arguments.
SPECIAL = {"_target_", "_partial_", "_args_", "_recursive_", "_convert_"}


def describe(hint) -> str:
    """A type as a user reads it: `int`, `float`, `int or None`, `one of 'auto'`."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        return " or ".join(describe(arg) for arg in typing.get_args(hint))
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "None"
    origin = typing.get_origin(hint)
    if origin is not None:
        args = ", ".join(describe(arg) for arg in typing.get_args(hint))
        return f"a list of {args}" if origin in (list, collections.abc.Sequence) else str(hint)
    return getattr(hint, "__name__", str(hint))


def matches(value, hint) -> bool:
    """Whether a (resolved) config value can be the declared type; what it cannot judge (a
    callable, a type variable) passes."""
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return any(matches(value, arg) for arg in args)
    if origin is Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, collections.abc.Sequence) or hint in (list, tuple):
        if not isinstance(value, list | tuple):
            return False
        inner = args[0] if args and origin is not tuple else Any
        return all(matches(item, inner) for item in value)
    if origin in (dict, collections.abc.Mapping) or hint is dict:
        return isinstance(value, dict)
    if inspect.isclass(hint) and origin is None:  # a config holds no such object, or a path
        return isinstance(value, hint) or (issubclass(hint, os.PathLike) and isinstance(value, str))
    return True  # a callable, a type variable, an annotation it cannot read


def declared_types(target: str, key: str) -> dict:
    """The constructor's declared argument types of `target` (a class or a function); one that
    names nothing is refused in one line, naming the part that is missing."""
    obj = locate(target, f"{key}._target_")
    function = obj.__init__ if inspect.isclass(obj) else obj
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # annotations it cannot resolve: nothing to check
        return {}
    parameters = inspect.signature(function).parameters
    return {name: hint for name, hint in hints.items() if name in parameters}


def instantiated(value) -> bool:
    """A config of an object to build (`_target_`), or a list of them: judged by its own
    target's types, not by the type of the argument it becomes."""
    if isinstance(value, list):
        return bool(value) and all(instantiated(item) for item in value)
    return isinstance(value, dict) and "_target_" in value


def wrong_types(node, key: str) -> list[str]:
    """`key=value: expected <type> (<target>'s <argument>)` for each value of `node` (a
    resolved config) whose type its target does not declare, in nested targets too."""
    if isinstance(node, list):
        return [p for i, value in enumerate(node) for p in wrong_types(value, f"{key}[{i}]")]
    if not isinstance(node, dict):
        return []
    hints = declared_types(node["_target_"], key) if "_target_" in node else {}
    problems = []
    for name, value in node.items():
        path = f"{key}.{name}"
        if name in SPECIAL:
            continue
        if instantiated(value) or name not in hints:
            problems += wrong_types(value, path)
        elif not matches(value, hints[name]):
            target = node["_target_"].rsplit(".", 1)[-1]
            expected = describe(hints[name])
            problems.append(f"{path}={value!r}: expected {expected} ({target}'s {name})")
    return problems


def check_types(cfg: DictConfig) -> None:
    """Refuse a config with a value of the wrong type, naming each, before anything is built."""
    problems = [
        f"{name}={cfg[name]!r}: expected {describe(hint)}"
        for name, hint in RUN_KEYS.items()
        if name in cfg and not matches(cfg[name], hint)
    ]
    for group in ("data", "model", "trainer", "callbacks", "logger"):
        if cfg.get(group) is not None:
            try:
                resolved = OmegaConf.to_container(cfg[group], resolve=True)
            except MissingMandatoryValue as err:
                key = err.full_key
                raise ConfigError(f"{key}: has no value; give one ({key}=...)") from None
            problems += wrong_types(resolved, group)
    if problems:
        raise ConfigError("; ".join(problems) + ": give a value of that type")
