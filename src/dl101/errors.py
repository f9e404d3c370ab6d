"""Every command line's error boundary: a fault a user can cause or meet (a wrong value or type,
a missing or unreadable file, a folder that cannot be written, no space left, a `_target_` that
names no module or class, a config key its constructor does not take) ends in one line,
`Error: <what> (<where>): <what to do>`, and exit status 1, with nothing lost. An error nobody
anticipated keeps its traceback, and HYDRA_FULL_ERROR=1 shows the traceback of any."""

from __future__ import annotations

import errno
import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class InputError(ValueError):
    """A path or value the user gave is wrong; the message says what and what to do."""


class ConfigError(InputError):
    """A config value is of the wrong type or out of its range: `key=value: what is wrong`."""


class DataIntegrityError(RuntimeError):
    """A raw data file is missing, truncated or modified; the message names it and the fix."""


KEPT = (
    "checkpoints saved before it are whole (each is written beside its target, then renamed); "
    "resume with ckpt_path=last once there is space"
)


def folder_of(path: str | None) -> str:
    """Where a failed write was going: a checkpoint's folder rather than its temporary file."""
    if not path:
        return "the run's folder"
    path = Path(path)
    return str(path.parent if path.name.startswith(".") or path.suffix == ".part" else path)


def os_error_line(err: OSError) -> str | None:
    """What an anticipated OSError says, in one line; None for any other."""
    where = folder_of(err.filename)
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device ({where}): free some space there; {KEPT}"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"{err.strerror.lower()} ({where}): make it writable, or write elsewhere "
            "(DL101_LOG_DIR=/a/folder, or paths.log_dir=...)"
        )
    if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR) and err.filename:
        return f"{err.strerror.lower()} ({err.filename}): check the path"
    return None


def search_path() -> str:
    """The folders Python finds modules in, less those of its installation (site-packages)."""
    installed = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    own = [p or os.getcwd() for p in sys.path if not (p or "/").startswith(installed)]
    return ", ".join(dict.fromkeys(own)) or "none besides the installed packages"


def defined_in(module) -> list[str]:
    """The classes and functions a module defines itself, else those it offers (a package
    that imports them from its modules)."""
    public = {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
    }
    own = [name for name, value in public.items() if value.__module__ == module.__name__]
    return own or list(getattr(module, "__all__", public))


def locate(target: str, key: str):
    """The class or function a `_target_` names, imported; where there is none, one line saying
    which part is missing: the module (with the search path in use) or the name in it."""
    parts, found, obj = target.split("."), 0, None
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        try:
            obj, found = importlib.import_module(name), i
        except ModuleNotFoundError as err:
            if err.name == name:
                break  # not a module: the rest are names in the last one found
            if not name.startswith(f"{err.name}."):  # the module itself imports what is missing
                raise InputError(
                    f"{key}={target}: module {name} imports {err.name}, which is not installed: "
                    f"install it in this environment ({sys.prefix})"
                ) from None
            break
    if found == 0:
        raise InputError(
            f"{key}={target}: no module named {parts[0]} on Python's search path "
            f"({search_path()}): run from the folder of {parts[0]}.py or put that folder on "
            "PYTHONPATH (export PYTHONPATH=/that/folder)"
        )
    for i in range(found, len(parts)):
        if not hasattr(obj, parts[i]):
            where = ".".join(parts[:i])
            source = getattr(obj, "__file__", None)
            names = defined_in(obj) if inspect.ismodule(obj) else []
            raise InputError(
                f"{key}={target}: {where}{f' ({source})' if source else ''} has no {parts[i]}"
                + (f" (it has {', '.join(names)})" if names else "")
                + ": check the name"
            )
        obj = getattr(obj, parts[i])
    return obj


def parameters(target: str) -> str:
    """A constructor's arguments, followed through `**kwargs` into the base classes it passes
    them to: `TinyCNN(input_shape, num_classes, channels, **classifier_args) -> Classifier(
    num_classes) -> Model(optimizer, scheduler, scheduler_interval)`."""
    obj = locate(target, "_target_")
    classes = (
        [c for c in obj.__mro__ if "__init__" in vars(c) and c is not object]
        if inspect.isclass(obj)
        else [obj]
    )
    shown = []
    for owner in classes:
        signature = inspect.signature(owner.__init__ if inspect.isclass(owner) else owner)
        stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
        names = [
            f"{stars.get(p.kind, '')}{n}" for n, p in signature.parameters.items() if n != "self"
        ]
        shown.append(f"{owner.__name__}({', '.join(names)})")
        kinds = [p.kind for p in signature.parameters.values()]
        if inspect.Parameter.VAR_KEYWORD not in kinds or owner.__module__.startswith("torch"):
            break
    return " -> ".join(shown)


def instantiation_line(err: Exception) -> str | None:
    """Hydra's InstantiationException in one line, where it says a `_target_` names nothing or
    a constructor refused a config key (its message: `Error in call to target '<target>'` or
    `Error locating target '<target>'`, then `full_key: <key>`); None for any other."""
    message = str(err)
    found = re.search(r"(call to|locating) target '([^']+)'", message)
    key = re.search(r"full_key: (\S+)", message)
    if not found:
        return None
    kind, target = found.groups()
    key = key.group(1) if key else "_target_"
    if kind == "locating":
        try:
            locate(target, f"{key}._target_")
        except InputError as located:
            return str(located)
        return None
    cause = str(err.__cause__ or "")
    if not isinstance(err.__cause__, TypeError):
        return None
    if unexpected := re.search(r"unexpected keyword argument '(\w+)'", cause):
        name = unexpected.group(1)
        return (
            f"{key}.{name}: {target.rsplit('.', 1)[-1]} takes no argument {name} "
            f"({parameters(target)}): remove it (~{key}.{name}) or give one of those"
        )
    if missing := re.search(r"missing \d+ required (?:positional |keyword-only )?arguments?: (.*)",
                            cause):  # fmt: skip
        names = re.findall(r"'(\w+)'", missing.group(1))
        return (
            f"{key}: {target.rsplit('.', 1)[-1]} needs {', '.join(names)} ({parameters(target)}): "
            f"give {' '.join(f'{key}.{n}=...' for n in names)}"
        )
    return None


def one_line(err: BaseException) -> str | None:
    """The error's line, found in it or in what caused it (Hydra wraps a constructor's error
    in its own); None when nothing in the chain was anticipated."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, InputError):
            return str(err)
        if isinstance(err, DataIntegrityError):
            first, *rest = str(err).splitlines()
            return f"{first.rstrip(':')} ({rest[0].strip() if rest else 'data/'}): {rest[-1]}"
        if isinstance(err, OSError) and (line := os_error_line(err)):
            return line
        if type(err).__name__ == "InstantiationException" and (line := instantiation_line(err)):
            return line
        err = err.__cause__ or err.__context__
    return None


@contextmanager
def error_boundary() -> Iterator[None]:
    """A command line's body: an anticipated error becomes one line on stderr, exit status 1."""
    try:
        yield
    except Exception as err:
        line = one_line(err)
        if line is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"Error: {line}", file=sys.stderr)
        raise SystemExit(1) from None
