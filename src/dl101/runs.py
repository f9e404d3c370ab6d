"""Finished runs read back from their folders: config, overrides and TensorBoard scalars."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def lower_is_better(tag: str) -> bool:
    return tag.split("/")[-1].startswith(("loss", "mse", "ppl"))


@dataclass
class Run:
    path: Path
    config: dict
    overrides: list[str]
    events: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # tag -> (step, v)

    def values(self, tag: str) -> list[float]:
        return [value for _, value in self.events.get(tag, [])]

    def final(self, tag: str) -> float | None:
        values = self.values(tag)
        return values[-1] if values else None

    def best(self, tag: str) -> float | None:
        values = self.values(tag)
        if not values:
            return None
        return min(values) if lower_is_better(tag) else max(values)

    def at_step(self, tag: str, step: int) -> float | None:
        """The last value logged at or before `step`."""
        before = [value for s, value in self.events.get(tag, []) if s <= step]
        return before[-1] if before else None

    def hparams(self) -> dict[str, str]:
        """The job's command-line overrides as key -> value."""
        return dict(o.lstrip("+~").split("=", 1) for o in self.overrides if "=" in o)

    def lookup(self, dotted_key: str):
        """A config value by dotted key; `overrides` = the job's overrides except its seed."""
        if dotted_key == "overrides":
            return " ".join(o for o in self.overrides if not o.startswith("seed=")) or "(none)"
        value = self.config
        for part in dotted_key.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Each scalar tag of the run's TensorBoard logs as (step, value) in step order, read with
    TensorBoard's own reader."""
    accumulator = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {
        tag: sorted((event.step, event.value) for event in accumulator.Scalars(tag))
        for tag in accumulator.Tags()["scalars"]
    }


def find_runs(path: Path) -> list[Run]:
    """Every run under `path` (itself included): folders with a `.hydra/config.yaml`."""
    runs = []
    for config_file in sorted(path.glob("**/.hydra/config.yaml")):
        run_dir = config_file.parent.parent
        overrides_file = run_dir / ".hydra" / "overrides.yaml"
        overrides = (
            OmegaConf.to_container(OmegaConf.load(overrides_file))
            if overrides_file.exists()
            else []
        )
        config = OmegaConf.to_container(OmegaConf.load(config_file), resolve=False)
        runs.append(Run(run_dir, config, overrides, read_scalars(run_dir)))
    if not runs:
        raise FileNotFoundError(f"{path}: no runs here (no .hydra/config.yaml below it)")
    return sorted(
        runs, key=lambda run: (len(run.path.parts), run.path.name.zfill(6), str(run.path))
    )


def group_runs(runs: list[Run], keys: list[str]) -> dict[str, list[Run]]:
    """Runs by their values of the config `keys` (joined with " / "), in first-seen order."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(" / ".join(str(run.lookup(key)) for key in keys), []).append(run)
    return groups
