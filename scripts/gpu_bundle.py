"""`make gpu-bundle`: what an offline GPU node lacks, in `.gpu/` (git-ignored), for
`bash scripts/gpu_check.sh --offline` there. Such a node has no network and its own python3
with torch, Lightning, torchmetrics, torchvision, tensorboard, rich, matplotlib and pytest, but
no Hydra; what travels with the source tree is small. The bundle holds

- `wheels/`: pure-Python wheels of what dl101 needs beyond that image, at the versions
  constraints.txt pins (antlr4's is built here from its source distribution);
- `requires.txt`: each wheel's module and package, which gpu_check.sh checks it can import;
- `mnist/`: the four verified MNIST IDX files, xz-compressed (`python -m dl101.data --unpack`
  restores and checks them there).

    python scripts/gpu_bundle.py [--out .gpu] [--limit-mib 40]
"""

from __future__ import annotations

import argparse
import lzma
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from dl101.data.sources import MNIST_MD5, raw_dir, verify  # noqa: E402

# What dl101 imports that such a node's image lacks, as (package, module): the rest of what a
# GPU check runs is there. requires.txt in the bundle lists them for gpu_check.sh to check.
MISSING = (
    ("hydra-core", "hydra"),
    ("omegaconf", "omegaconf"),
    ("antlr4-python3-runtime", "antlr4"),
)


def pinned(name: str) -> str:
    """`name==version` as constraints.txt pins it."""
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.strip()
    import importlib.metadata

    return f"{name}=={importlib.metadata.version(name)}"  # installed here: that version


def wheels(out: Path) -> None:
    """Each missing package as a wheel: downloaded where one exists, else built from source."""
    for name, _ in MISSING:
        requirement = pinned(name)
        pip = [sys.executable, "-m", "pip", "--quiet"]
        got = subprocess.run(
            [*pip, "download", "--no-deps", "--only-binary=:all:", "-d", str(out), requirement],
            capture_output=True, text=True,
        )  # fmt: skip
        if got.returncode != 0:  # a source distribution only: a pure-Python wheel from it
            subprocess.run([*pip, "wheel", "--no-deps", "-w", str(out), requirement], check=True)
        if not list(out.glob(f"{name.replace('-', '_')}-*.whl")):
            raise SystemExit(f"gpu-bundle: no wheel for {requirement} in {out}")


def mnist(data_dir: Path, out: Path) -> None:
    verify(data_dir)  # only checked files travel
    for name in MNIST_MD5:
        data = (raw_dir(data_dir) / name).read_bytes()
        # preset 1: 10 MiB in 3 s; the strongest preset saves 1 MiB for 2 minutes more
        (out / f"{name}.xz").write_bytes(lzma.compress(data, preset=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".gpu")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--limit-mib", type=float, default=40)
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    (args.out / "wheels").mkdir(parents=True)
    (args.out / "mnist").mkdir()
    wheels(args.out / "wheels")
    (args.out / "requires.txt").write_text("".join(f"{m} {p}\n" for p, m in MISSING))
    mnist(args.data_dir, args.out / "mnist")
    files = sorted(p for p in args.out.rglob("*") if p.is_file())
    for path in files:
        print(f"{path.stat().st_size / 2**20:7.2f} MiB  {path.relative_to(args.out)}")
    total = sum(p.stat().st_size for p in files) / 2**20
    print(f"{total:7.2f} MiB  in all ({args.out})")
    if total > args.limit_mib:
        raise SystemExit(f"gpu-bundle: {total:.1f} MiB is over its {args.limit_mib:g} MiB limit")


if __name__ == "__main__":
    main()
