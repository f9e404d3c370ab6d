"""Mistakes in what a user typed or pointed at: said in one line, exit status 1, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class InputError(ValueError):
    """A path or value the user gave is wrong; the message says what and what to do."""


@contextmanager
def refused_in_one_line() -> Iterator[None]:
    """A command line's body: an InputError becomes one line on stderr and exit status 1."""
    try:
        yield
    except InputError as err:
        print(f"Error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
