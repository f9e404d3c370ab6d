"""Sweep jobs named by what the sweep varies: `regularization=dropout,seed=3`, `lr=0.01`.

The keys a multirun varies are found once, when it starts (`swept_keys`), and travel to every
job in its Hydra config (`hydra.job.env_set.DL101_SWEPT_KEYS`, also set in the job's environment).
Each job's folder, and so its TensorBoard run, is named from its own values of those keys by the
`dl101_job_name` resolver in `hydra.sweep.subdir`.
"""

from __future__ import annotations

import hashlib
import re

from hydra.core.override_parser.overrides_parser import OverridesParser

from dl101.internals import BASIC_SWEEPER

SWEPT_KEYS_VAR = "DL101_SWEPT_KEYS"
FAILED_MARKER = "FAILED"  # in a sweep job's folder: why it failed (written by dl101.train)
FINISHED_MARKER = "final_metrics.json"  # in a run's folder once it ended: its final metrics
MAX_NAME = 80
UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")  # what a value may keep in a shell-safe folder name


def swept_keys(task_overrides: list[str], sweeper_params: dict | None) -> list[str]:
    """The keys a multirun varies: command-line sweeps (`lr=0.01,0.1`, `range`, `choice`) and
    the sweeper's own `params`, with more than one value or a search interval; in order."""
    lines = [f"{key}={value}" for key, value in (sweeper_params or {}).items()]
    keys: list[str] = []
    for override in OverridesParser.create().parse_overrides([*lines, *task_overrides]):
        if not override.is_sweep_override():
            continue
        try:
            many = len(list(override.sweep_string_iterator())) > 1
        except Exception:  # an interval or a glob: a search space, not a list
            many = True
        if many and override.key_or_group not in keys:
            keys.append(override.key_or_group)
    return keys


def job_values(job_overrides: list[str], keys: list[str]) -> dict[str, str]:
    """This job's value of each swept key, as written in its overrides."""
    values = {}
    for override in OverridesParser.create().parse_overrides(list(job_overrides)):
        if override.key_or_group in keys:
            values[override.key_or_group] = override.get_value_element_as_str()
    return {key: values[key] for key in keys if key in values}


def labels(keys: list[str]) -> dict[str, str]:
    """Each key's label in a name: its last part (`model.optimizer.lr` -> `lr`), or the whole key
    where two keys would share a label."""
    last = {key: re.split(r"[./]", key)[-1] for key in keys}
    shared = {label for label in last.values() if list(last.values()).count(label) > 1}
    return {key: key if label in shared else label for key, label in last.items()}


def short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:6]


def shown_value(value: str, mark_changes: bool = True) -> str:
    """A value as a name shows it: numbers with at most 4 significant digits, unsafe characters
    as `_`. With `mark_changes`, a value changed on the way gets a hash of the original, so two
    different values never show the same."""
    try:
        number = float(value)
        shown = value if len(value) <= 8 else f"{number:.4g}"
        same = float(shown) == number
    except ValueError:
        shown = UNSAFE.sub("_", value)
        same = shown == value
    return shown if same or not mark_changes else f"{shown}~{short_hash(value)}"


def name_of(values: dict[str, str], prefix: str = "") -> str:
    """`label=value,...` for `key -> value`, short and shell-safe; unique by its values alone
    unless a unique `prefix` (a trial number) is given."""
    label = labels(list(values))
    exact = not prefix
    items = [f"{label[key]}={shown_value(value, exact)}" for key, value in values.items()]
    name = prefix + ",".join(items)
    if len(name) <= MAX_NAME:
        return name
    return f"{name[: MAX_NAME - 7]}~{short_hash(name)}" if exact else name[:MAX_NAME]


def is_optuna(sweeper_target: str | None) -> bool:
    """Whether a sweep's sweeper is Optuna's (it may draw the same values twice, and continues
    only from a study kept in storage)."""
    return "optuna" in str(sweeper_target or "").lower()


def job_name(num: int, job_overrides: list[str], keys_text: str, sweeper: str) -> str:
    """The folder name of sweep job `num`: its swept values; prefixed by its number where a
    sweeper (Optuna) may draw the same values twice; the number alone if nothing is swept."""
    keys = keys_text.split() if keys_text else []
    values = job_values(job_overrides, keys)
    if not values:
        return str(num)
    grid = sweeper == BASIC_SWEEPER
    return name_of(values) if grid else name_of(values, prefix=f"{int(num):03d}_")
