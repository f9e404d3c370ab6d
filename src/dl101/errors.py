"""Every command line's error boundary: a fault a user can cause or meet (a wrong value or type,
a missing or unreadable file, a folder that cannot be written, no space left) ends in one line,
`Error: <what> (<where>): <what to do>`, and exit status 1, with nothing lost. An error nobody
anticipated keeps its traceback, and HYDRA_FULL_ERROR=1 shows the traceback of any."""

from __future__ import annotations

import errno
import os
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
