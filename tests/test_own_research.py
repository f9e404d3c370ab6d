"""The guide "Use it for your own research" (docs/guide/own-research.md), as a user does it:
its files written as they are printed into a folder outside the checkout, with pictures of
MNIST digits in a folder per class; the configs compose and build there (fast), and (slow) its
commands run as typed (`ckpt_path=best` after a sweep: its best job), a third model added the
same way sweeps with seed means and its own HPARAMS columns, and a folder of colour pictures
goes the whole way: trained in three channels, logs in the working folder, the sweep's best job
by `ckpt_path=best`, evaluate (on the test folder alone) and predict from another folder."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from dl101 import CONFIG_DIR, PROJECT_ROOT
from dl101.results.runs import find_runs
from dl101.run.loggers import run_hparams
from dl101.run.training import build
from tests.helpers import write_digit_pictures

GUIDE = (PROJECT_ROOT / "docs" / "guide" / "own-research.md").read_text()
SECTION = GUIDE[GUIDE.index("# Use it for your own research") :].split("\n## ")[0]
FILES = dict(re.findall(r"```\w*\n# my_research/(\S+)\n(.*?)```", SECTION, re.DOTALL))
COMMANDS = [
    line
    for line in re.search(r"```bash\n(.*?)```", SECTION, re.DOTALL).group(1).splitlines()
    if line.startswith("python -m dl101")
]
TINY_CNN = '''
from torch import nn

from dl101.models import Classifier


class TinyCNN(Classifier):
    """`channels` filters of 3x3, 2x2 max pooling, a linear head."""

    def __init__(self, input_shape, num_classes, channels=4, **classifier_args):
        super().__init__(num_classes=num_classes, **classifier_args)
        c, h, w = input_shape
        self.net = nn.Sequential(
            nn.Conv2d(c, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(channels * (h // 2) * (w // 2), num_classes),
        )

    def forward(self, x):
        return self.net(x)
'''


@pytest.fixture(scope="module")
def my_research(mnist_dir, tmp_path_factory) -> Path:
    """The guide's folder, its files as printed, and pictures of digits."""
    folder = tmp_path_factory.mktemp("elsewhere") / "my_research"
    for name, text in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    write_digit_pictures(folder / "digits" / "train", train=True, per_class=40)
    write_digit_pictures(folder / "digits" / "test", train=False, per_class=10)
    return folder


def test_the_guide_shows_a_model_a_dataset_and_the_commands():
    assert set(FILES) == {"my_models.py", "conf/model/tiny.yaml", "conf/data/digits.yaml"}
    assert len(COMMANDS) == 7 and all(" -cd conf " in line for line in COMMANDS)


def compose_there(folder: Path, overrides: list[str]):
    """What `python -m dl101.train -cd conf overrides` composes from `folder`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=[f"hydra.searchpath=[file://{folder}/conf]", *overrides])


def test_ones_own_model_and_data_build_from_their_folder(my_research, monkeypatch):
    """The data tells the model its shapes, whichever data: no model override."""
    monkeypatch.syspath_prepend(str(my_research))
    monkeypatch.chdir(my_research)
    cfg = compose_there(my_research, ["model=tiny", "data=digits"])
    model, data = build(cfg)
    assert data.class_names == [str(d) for d in range(10)]
    assert model.net[1].in_features == 28 * 28 and model.net[-1].out_features == 10
    columns = run_hparams(cfg, [], [])
    assert columns["width"] == 32  # its own argument, an HPARAMS column
    assert columns["model"] == "TinyMLP"  # its class, as dl101's own models are named
    cfg = compose_there(my_research, ["model=tiny", "data=houses_quality"])
    model, _ = build(cfg)  # two features, two classes: told by the table
    assert (model.net[1].in_features, model.net[-1].out_features) == (2, 2)


def run_there(folder: Path, line: str, logs: Path) -> str:
    argv = shlex.split(line)
    env = {**os.environ, "PYTHONPATH": str(folder), "DL101_LOG_DIR": str(logs), "COLUMNS": "200"}
    quiet = ["callbacks.progress_bar.refresh_rate=0"] * (argv[2] == "dl101.train")  # no bars
    result = subprocess.run(
        [sys.executable, *argv[1:], *quiet],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, f"{line}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.slow
def test_the_readme_commands_run_as_typed_from_ones_own_folder(my_research, tmp_path):
    logs = tmp_path / "logs"
    printed = [run_there(my_research, line, logs) for line in COMMANDS]
    trained, evaluated = (re.search(r"test/acc\s*│\s*([\d.]+)", p).group(1) for p in printed[:2])
    assert_best_job_chosen(printed[3], logs / "train" / "multiruns" / "default")
    assert trained == evaluated  # the checkpoint tested again
    width_sweep, model_sweep = sorted((logs / "train" / "multiruns" / "default").iterdir())
    assert {p.name for p in (width_sweep / "mean").iterdir()} == {"width=8", "width=64"}
    runs = find_runs(width_sweep)
    assert {run.path.name for run in runs} == {
        f"width={w},seed={s}" for w in (8, 64) for s in (1, 2)
    }
    assert all(run.session_hparams["width"] in (8, 64) for run in runs)
    rows = [line.split("│") for line in printed[5].splitlines() if "digits/test/3/" in line]
    assert len(rows) == 10  # every picture of the folder, named by its class folders' names
    assert sum(cells[2].strip() == "3" for cells in rows) >= 5  # chance: 1 in 10
    assert {p.name for p in (model_sweep / "mean").iterdir()} == {"model=tiny", "model=mlp"}
    assert "| model | runs |" in (model_sweep / "report.md").read_text()  # rows: tiny, mlp


@pytest.mark.slow
def test_a_third_model_added_the_same_way_sweeps_with_seed_means(my_research, tmp_path):
    (my_research / "my_cnn.py").write_text(TINY_CNN)
    (my_research / "conf" / "model" / "tiny_cnn.yaml").write_text(
        "defaults:\n  - optimizer: adam\n  - _self_\n\n_target_: my_cnn.TinyCNN\nchannels: 4\n"
    )
    logs = tmp_path / "logs"
    run_there(my_research, "python -m dl101.train -cd conf -m model=tiny_cnn data=digits "
              "model.channels=2,8 seed=1,2 trainer.max_epochs=2", logs)  # fmt: skip
    (sweep,) = (logs / "train" / "multiruns" / "default").iterdir()
    runs = find_runs(sweep)
    assert len(runs) == 4 and all(run.session_hparams["model"] == "TinyCNN" for run in runs)
    assert {p.name for p in (sweep / "mean").iterdir()} == {"channels=2", "channels=8"}
    report = (sweep / "report.md").read_text()
    assert "| model.channels | runs |" in report and "± " in report


def assert_best_job_chosen(printed: str, sweeps: Path) -> Path:
    """`ckpt_path=best` named a job of the experiment's sweep (the only one when it ran) with the
    best val/acc (the classifiers' monitor), read here from the jobs' own event files; return
    that job's folder."""
    (line,) = [line for line in printed.splitlines() if line.startswith("ckpt_path=best: job ")]
    name, sweep = re.match(r"ckpt_path=best: job (\S+) of the sweep (\S+),", line).groups()
    assert Path(sweep).parent == sweeps
    runs = find_runs(Path(sweep))
    best = max(run.best("val/acc") for run in runs)
    chosen = next(run for run in runs if run.path.name == name)
    assert chosen.best("val/acc") == best, line
    assert f"best val/acc {best:.4f} of {len(runs)} jobs" in line
    return chosen.path


SHAPES_DATA = """defaults:
  - image_folder
  - _self_

root: shapes/train
test_root: shapes/test
size: [16, 16]
"""


def run_from(folder: Path, args: list[str], env: dict) -> str:
    quiet = ["callbacks.progress_bar.refresh_rate=0"] * (args[0] == "dl101.train")
    result = subprocess.run([sys.executable, "-m", *args, *quiet], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, f"{args}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


@pytest.mark.slow
def test_colour_pictures_from_ones_own_folder_the_whole_way(tmp_path):
    """The path a researcher takes with a folder of RGB pictures of shapes: trained in three
    channels, logs in the folder it is started from, a sweep's best job by `ckpt_path=best`,
    evaluate on the test folder alone and predict, both from another folder."""
    import torch

    from tests.helpers import write_shape_pictures

    folder = tmp_path / "shapes_research"
    write_shape_pictures(folder / "shapes" / "train", per_class=20)
    write_shape_pictures(folder / "shapes" / "test", per_class=5, seed=1)
    (folder / "my_cnn.py").write_text(TINY_CNN)
    (folder / "conf" / "model").mkdir(parents=True)
    (folder / "conf" / "data").mkdir()
    (folder / "conf" / "model" / "tiny_cnn.yaml").write_text(
        "defaults:\n  - optimizer: adam\n  - _self_\n\n_target_: my_cnn.TinyCNN\nchannels: 4\n"
    )
    (folder / "conf" / "data" / "shapes.yaml").write_text(SHAPES_DATA)
    env = {k: v for k, v in os.environ.items() if k != "DL101_LOG_DIR"}
    env |= {"PYTHONPATH": str(folder), "COLUMNS": "300"}
    common = ["-cd", "conf", "data=shapes", "model=tiny_cnn", "experiment_name=shapes"]
    printed = run_from(folder, ["dl101.train", *common, "trainer.max_epochs=2"], env)
    assert "3 classes (circle=0, square=1, triangle=2), 3 channels" in printed
    logs = folder / "logs" / "train"  # the working folder's logs/, not the checkout's
    (run,) = (logs / "runs" / "shapes").iterdir()
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["state_dict"]["net.0.weight"].shape == (4, 3, 3, 3)  # 3 input channels
    data = checkpoint["dl101_config"]["data"]
    assert data["root"] == str(folder / "shapes" / "train")  # absolute, as typed from here
    assert data["test_root"] == str(folder / "shapes" / "test")
    run_from(folder, ["dl101.train", "-m", *common, "model.channels=2,8", "seed=1,2",
                      "trainer.max_epochs=2"], env)  # fmt: skip

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env["DL101_LOG_DIR"] = str(folder / "logs")
    printed = run_from(elsewhere, ["dl101.evaluate", "experiment_name=shapes", "ckpt_path=best"],
                       env)  # fmt: skip
    best_job = assert_best_job_chosen(printed, logs / "multiruns" / "shapes")
    (folder / "shapes" / "train").rename(folder / "shapes" / "train-moved")  # test folder alone
    (best,) = [p for p in (best_job / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt"]
    printed = run_from(elsewhere, ["dl101.evaluate", f'ckpt_path="{best}"'], env)  # , = in it
    assert re.search(r"test/acc\s*│\s*[\d.]+", printed)
    assert (elsewhere / "logs").exists() is False  # DL101_LOG_DIR: there, not here
    square = folder / "shapes" / "test" / "square"
    printed = run_from(elsewhere, ["dl101.predict", f'ckpt_path="{best}"', f"input={square}"], env)
    rows = [line for line in printed.splitlines() if "/square/" in line]
    assert len(rows) == 5 and all(re.search(r"(circle|square|triangle)\s+[\d.]+", r) for r in rows)
