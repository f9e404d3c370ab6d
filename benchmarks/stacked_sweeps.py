"""`make bench`'s third table: sweeps trained as stacked groups (hydra/launcher=stacked) against
the launchers that train one job at a time, whole commands as typed, side by side in one run:

- the regularization sweep (`make sweep-regularization`: 20 jobs) stacked, with the joblib
  launcher (jobs side by side, one per core) and with the basic one (one after another);
- 5, 20 and 100 seeds of `course_overfit` stacked;
- LeNet-5 (model=lenet, no schedule), 5 seeds x 1 epoch, stacked and side by side (joblib).

Each row gives the wall time, the group's fit (the members' `stats/fit_seconds` summed: their
shares of it), the arithmetic (matmul and convolution FLOPs of every member's training steps,
validations and test, counted with torch's FlopCounterMode) and its rate against this machine's
matmul FLOP/s, and for stacked groups the peak memory of the process beside what the group
holds: the members' parameters, gradients and optimizer state, and the data once.

    python -m benchmarks.stacked_sweeps [--out DIR] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import runpy
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from benchmarks.command_timing import GROUPING, PYTHON, QUIET, TRAIN, timed
from dl101 import PROJECT_ROOT
from dl101.results.runs import find_runs, read_events
from dl101.results.tables import fmt, markdown_table

PEAK_FILE = "DL101_PEAK_RSS_FILE"  # where `--peak` writes the command's peak RSS (bytes)
STACKED = "hydra/launcher=stacked"
JOBLIB = "hydra/launcher=joblib"
BASIC = ["hydra/launcher=basic", "threads=1"]
LENET = ["model=lenet", "trainer.max_epochs=1"]


def run(args: list[str], sweep_dir: Path, log_path: str) -> dict:
    """One sweep as typed: wall seconds, fits summed, FLOPs, jobs; a stacked one through this
    module (`--peak`), which records its process's peak memory."""
    stacked = STACKED in args
    peak = sweep_dir.with_suffix(".peak")
    via = [*PYTHON, "-m", "benchmarks.stacked_sweeps", "--peak"] if stacked else TRAIN
    os.environ[PEAK_FILE] = str(peak)
    try:
        wall = timed([*via, "-m", *args, *QUIET, f"hydra.sweep.dir={sweep_dir}"], log_path)
    finally:
        os.environ.pop(PEAK_FILE, None)
    runs = find_runs(sweep_dir)
    return {
        "wall_s": wall,
        "fit_s": sum(r.final("stats/fit_seconds") or 0.0 for r in runs),
        "flops": sum(run_flops(r.path) for r in runs),
        "jobs": len(runs),
        "memory": memory(peak.read_text(), sweep_dir, log_path) if peak.is_file() else "",
    }


def run_flops(folder: Path) -> float:
    """The matmul and convolution FLOPs of one finished run: its training steps (forward and
    backward), its validations (forward) and its test, from its config and its event files."""
    from omegaconf import OmegaConf

    from dl101.run.config import compose_config  # noqa: F401  (its resolvers)

    cfg = OmegaConf.load(folder / ".hydra" / "config.yaml")
    datamodule, per_sample = flops_per_sample(cfg)
    scalars, _ = read_events(folder)
    steps = scalars["epoch"][-1][0]  # the test's step: every training step done
    validations = len(scalars.get("val/acc", []))
    evaluated = len(datamodule.val_set) + (
        len(datamodule.train_set) if cfg.data.get("eval_train_set") else 0
    )
    train = steps * cfg.data.batch_size * per_sample
    return train + (validations * evaluated + len(datamodule.test_set)) * per_sample / 3


_FLOPS_CACHE: dict[str, tuple] = {}


def flops_per_sample(cfg) -> tuple:
    """The run's datamodule (set up) and its model's training FLOPs per sample (forward +
    backward: 3 forwards), counted once per model config."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from benchmarks.bench import training_flops_per_sample

    key = OmegaConf.to_yaml(cfg.model) + OmegaConf.to_yaml(cfg.data)
    if key not in _FLOPS_CACHE:
        datamodule = instantiate(cfg.data)
        datamodule.prepare_data()
        datamodule.setup("fit")
        _FLOPS_CACHE[key] = (datamodule, training_flops_per_sample(cfg, datamodule))
    return _FLOPS_CACHE[key]


def group_bytes(sweep_dir: Path, groups: int) -> float:
    """What the stacked groups hold of their own: per member its parameters, their gradients
    and its optimizer's state (SGD with momentum: one buffer; Adam: two), and the data once a
    group."""
    from omegaconf import OmegaConf

    runs = find_runs(sweep_dir)
    cfg = OmegaConf.load(runs[0].path / ".hydra" / "config.yaml")
    datamodule, _ = flops_per_sample(cfg)
    params = runs[0].final("stats/params") or 0.0
    states = 2 if "Adam" in cfg.model.optimizer._target_ else 1
    data = sum(s.x.nelement() * s.x.element_size() for s in
               (datamodule.train_set, datamodule.val_set, datamodule.test_set))  # fmt: skip
    return len(runs) * params * 4 * (2 + states) + groups * data


def rows(log_path: str, quick: bool) -> list[dict]:
    from benchmarks.bench import machine_flops

    machine = machine_flops()
    found: list[dict] = []

    def add(name: str, result: dict, note: str, target: str = "", met=None) -> None:
        rate = result["flops"] / result["wall_s"] / machine
        found.append({"sweep": name, **result, "gflop": result["flops"] / 1e9, "met": met,
                      "of_machine": rate, "target": target, "result": note})  # fmt: skip

    def faster(than: dict, result: dict) -> float:
        return than["wall_s"] / result["wall_s"]

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        sweep = ["sweep=regularization"]
        stacked = run([*sweep, STACKED], out / "reg_stacked", log_path)
        joblib = run([*sweep, JOBLIB], out / "reg_joblib", log_path)
        ratio = faster(joblib, stacked)
        add("make sweep-regularization (stacked)", stacked, f"{ratio:.1f}x faster than joblib",
            ">= 3x faster than joblib", ratio >= 3)  # fmt: skip
        add("... hydra/launcher=joblib", joblib, "jobs side by side, one per core")
        if not quick:
            basic = run([*sweep, *BASIC], out / "reg_basic", log_path)
            add("... hydra/launcher=basic threads=1", basic, "one after another")
        first = None
        for n in (5, 20) if quick else (5, 20, 100):
            seeds = ["experiment=course_overfit", STACKED, f"seed=range(1,{n + 1})"]
            result = run(seeds, out / f"seeds{n}", log_path)
            first = first or result
            wall, fit = result["wall_s"] / first["wall_s"], result["fit_s"] / first["fit_s"]
            note = f"{wall:.2f}x the wall of 5 seeds (fit {fit:.2f}x)"
            target, met = ("< 4x the wall of 5 seeds", wall < 4) if n == 100 else ("", None)
            add(f"course_overfit, {n} seeds stacked", result, note, target, met)
        seeds = "seed=1,2,3,4,5"
        stacked = run([*LENET, seeds, STACKED], out / "lenet_stacked", log_path)
        joblib = run([*LENET, seeds, JOBLIB], out / "lenet_joblib", log_path)
        add("LeNet-5, 5 seeds x 1 epoch stacked", stacked,
            f"{faster(joblib, stacked):.1f}x faster than joblib")  # fmt: skip
        add("... hydra/launcher=joblib", joblib, "jobs side by side, one per core")
    return found


def memory(peaks: str, sweep_dir: Path, log_path: str) -> str:
    """The launcher's and its largest worker's peak RSS, and what the groups hold."""
    launcher, worker = (int(value) for value in peaks.split())
    line = GROUPING.findall(Path(log_path).read_text())[-1]
    groups = int(found.group(1)) if (found := re.search(r"-> (\d+) stacked group", line)) else 1
    held = group_bytes(sweep_dir, groups) / 2**20
    return (f"peak {launcher / 2**20:.0f} MiB launcher, {worker / 2**20:.0f} MiB largest "
            f"worker; the {groups} group{'s' * (groups > 1)} hold {held:.1f} MiB")  # fmt: skip


COLUMNS = ("sweep", "jobs", "wall s", "fits s", "GFLOP", "FLOP/s of the machine's", "target",
           "met", "result", "memory")  # fmt: skip


def cells(found: dict) -> list[str]:
    met = "" if found["met"] is None else "yes" if found["met"] else "NO"
    return [
        found["sweep"], str(found["jobs"]), fmt(found["wall_s"], ".1f"), fmt(found["fit_s"], ".1f"),
        fmt(found["gflop"], ".0f"), f"{100 * found['of_machine']:.1f} %", found["target"], met,
        found["result"], found["memory"],
    ]  # fmt: skip


def markdown(found: list[dict]) -> str:
    table = markdown_table(COLUMNS, [cells(r) for r in found])
    return "## Stacked sweeps\n\n" + "\n".join(table) + "\n"


def peak_rss(status: str) -> int:
    """A process's peak resident memory in bytes, from its /proc/<pid>/status."""
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found[1]) * 1024 if found else 0


def descendants_peak(pid: int) -> int:
    """The largest peak RSS (VmHWM) among the processes below `pid` now: the workers are the
    forkserver's children, not this process's, so RUSAGE_CHILDREN does not see them."""
    parents, peaks = {}, {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            parents[int(status.parent.name)] = int(re.search(r"^PPid:\s+(\d+)", text, re.M)[1])
            peaks[int(status.parent.name)] = peak_rss(text)
        except (OSError, TypeError):
            continue
    found, frontier = [], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return max((peaks[child] for child in found), default=0)


def record_peak() -> None:
    """Run `python -m dl101.train <args>` here, writing its peak RSS and its largest worker's
    (any process below it, looked at every 0.2 s) where PEAK_FILE says."""
    import atexit
    import threading
    import time

    target = os.environ.get(PEAK_FILE)
    largest = [0]

    def watch() -> None:
        while True:
            largest[0] = max(largest[0], descendants_peak(os.getpid()))
            time.sleep(0.2)

    def write() -> None:
        # VmHWM, not ru_maxrss: that one keeps the peak of the process this one was forked from
        # (the bench itself, torch loaded) across the exec.
        own = peak_rss(Path("/proc/self/status").read_text())
        Path(target).write_text(f"{own} {largest[0]}")

    if target:
        threading.Thread(target=watch, daemon=True).start()
        atexit.register(write)
    sys.argv = ["dl101.train", *sys.argv[2:]]
    runpy.run_module("dl101.train", run_name="__main__", alter_sys=True)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(PROJECT_ROOT / "logs" / "bench"))
    parser.add_argument("--quick", action="store_true", help="no basic sweep, no 100 seeds")
    args = parser.parse_args(argv)
    out_dir = Path(args.out) / datetime.now().strftime("%Y-%m-%d_%H-%M-%S_stacked")
    out_dir.mkdir(parents=True, exist_ok=True)
    found = rows(str(out_dir / "runs.log"), args.quick)
    (out_dir / "stacked.json").write_text(json.dumps(found, indent=2))
    text = markdown(found)
    print(text)
    (out_dir / "stacked.md").write_text(text)
    return out_dir


if __name__ == "__main__":
    if sys.argv[1:2] == ["--peak"]:
        record_peak()
    else:
        main(sys.argv[1:])
