"""dl101's Hydra callback for every run and sweep: its folder made first, so that one that
cannot be written ends the command in one line. A sweep's own callback is in
`dl101.run.sweeps`."""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from dl101.errors import one_line


class OutputFolder(Callback):
    """The run's or the sweep's folder, made before Hydra makes it: where it cannot be (a file
    in its path, a read-only disk), one line says so instead of Hydra's traceback."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        make_folder(config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        make_folder(config.hydra.sweep.dir)


def make_folder(folder: str) -> None:
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        refuse(one_line(err) or str(err))


def refuse(line: str) -> None:
    print(f"Error: {line}", file=sys.stderr)
    raise SystemExit(1)  # not an Exception: Hydra's callback loop lets it through
