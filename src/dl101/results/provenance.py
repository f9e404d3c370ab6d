"""What produced a run, as its folder records it (`provenance.yaml`, written when it started by
`dl101.run.provenance`): the code's git commit and uncommitted changes, the versions, the
device and the command that reproduces it; read back and shown as a few lines of text (by
`dl101.report`, and in TensorBoard's TEXT tab). No training stack here."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

FILE = "provenance.yaml"  # in a run's folder
DIFF = "provenance.diff"  # beside it: the uncommitted changes of the code it ran, where any


def read_provenance(run_dir: Path) -> dict | None:
    """The run's provenance, or None for a run from before it was recorded."""
    path = Path(run_dir) / FILE
    return OmegaConf.to_container(OmegaConf.load(path)) if path.is_file() else None


def code_line(name: str, code: dict) -> str:
    """`dl101: /work/main at 1a2b3c4 (+ uncommitted changes: provenance.diff)`."""
    if not code.get("commit"):
        return f"{name}: {code.get('path')} (not a git checkout: no version to name)"
    dirty = f" + uncommitted changes ({code['diff']})" if code.get("dirty") else " (clean)"
    return f"{name}: {code['path']} at {code['commit'][:12]}{dirty}"


def provenance_lines(provenance: dict) -> list[str]:
    """A run's provenance as lines of text, one fact each."""
    versions = ", ".join(f"{k} {v}" for k, v in provenance.get("versions", {}).items())
    device = provenance.get("device", {})
    gpu = f", GPU {device['gpu']} (CUDA {device.get('cuda')})" if device.get("gpu") else ""
    lines = [code_line(name, code) for name, code in provenance.get("code", {}).items()]
    lines += [
        f"versions: {versions}",
        f"device: {device.get('cpu')}, {device.get('cores')} cores, "
        f"{device.get('torch_threads')} torch threads{gpu}",
        f"host: {provenance.get('host')}, started {provenance.get('started')}",
        f"command: {provenance.get('command')} (in {provenance.get('working_dir')})",
    ]
    if provenance.get("stacked"):
        lines.append(f"stacked: {provenance['stacked']}")
    if provenance.get("reproduce"):
        lines.append(f"reproduce: {provenance['reproduce']}")
    return lines


def shared_provenance(provenances: list[dict]) -> tuple[dict, list[str]]:
    """The first run's provenance, and what the others differ from it in (code, versions,
    device): a sweep's jobs normally share all three."""
    first = provenances[0]
    differ = [
        key
        for key in ("code", "versions", "device")
        if any(p.get(key) != first.get(key) for p in provenances[1:])
    ]
    return first, differ
