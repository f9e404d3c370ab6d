"""Faults a user can cause or meet end in one line, `Error: <what> (<where>): <what to do>`,
and exit status 1, with nothing lost: a value of the wrong type refused before anything is
built, a disk that fills up mid-run (the last good checkpoint kept, and resumed from), a folder
that cannot be made, a folder without runs, a `_target_` naming a module or class that is not
there, a config key its constructor does not take. An unexpected error keeps its traceback, and
HYDRA_FULL_ERROR=1 shows any."""

from __future__ import annotations

import errno

import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dl101 import PROJECT_ROOT
from dl101.errors import ConfigError, InputError, error_boundary, locate, one_line
from dl101.run.checkpoints import load_checkpoint
from dl101.run.config_types import check_types
from tests.helpers import compose_config, run_module


def error_line(result) -> str:
    """The one `Error:` line of a refused command (and nothing like a traceback)."""
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    return line


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.batch_size=1.5", "data.batch_size=1.5: expected int (MNISTDataModule's batch_size)"),
        ("trainer.max_epochs=ten", "trainer.max_epochs='ten': expected int or None (Trainer's"),
        ("model.dropout=high", "model.dropout='high': expected float or a list of float (MLP's"),
        ("seed=abc", "seed='abc': expected int or None"),
        ("model.optimizer.lr=abc", "model.optimizer.lr='abc': expected float or Tensor (SGD's"),
        ("+model.init=7", "model.init=7: expected str (MLP's init)"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_key_value_and_type(
    tmp_path, override, message
):
    cfg = compose_config(tmp_path, ["model=mlp", override.lstrip("+")])
    with pytest.raises(ConfigError) as refused:
        check_types(cfg)
    assert str(refused.value).startswith(message)


def test_every_shipped_config_passes_the_type_check(tmp_path):
    from tests.test_configs import CASES, companions

    for group, option in CASES:
        choice, folder = f"{group}={option}", tmp_path / f"{group}-{option}".replace("/", "-")
        check_types(compose_config(folder, [choice, *companions(choice, folder)]))


def test_a_wrong_type_on_the_command_line_is_one_line_before_anything_runs(tmp_path):
    result = run_module("dl101.train", "data.batch_size=1.5", f"hydra.run.dir={tmp_path}/run",
                        check=False)  # fmt: skip
    assert error_line(result).startswith("Error: data.batch_size=1.5: expected int")
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing was built


def test_a_disk_full_mid_run_is_one_line_and_the_last_good_checkpoint_resumes(tmp_path):
    """course_overfit writes last.ckpt every 50 steps; from step 120 the disk is full."""
    run = tmp_path / "run"
    common = ["experiment=course_overfit", "trainer.max_steps=200", f"hydra.run.dir={run}",
              "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip
    full = ["+callbacks.full._target_=tests.helpers.NoSpaceFrom", "+callbacks.full.step=120"]
    line = error_line(run_module("dl101.train", *common, *full, check=False))
    assert line.startswith(f"Error: no space left on the device ({run / 'checkpoints'}")
    assert "checkpoints saved before it are whole" in line and "ckpt_path=last" in line
    kept = load_checkpoint(str(run / "checkpoints" / "last.ckpt"))  # loads: not truncated
    assert kept["global_step"] == 100
    resumed = run_module("dl101.train", *common, f"ckpt_path={run}/checkpoints/last.ckpt")
    assert "test/acc" in resumed.stdout


def test_a_folder_that_cannot_be_made_is_one_line():
    result = run_module("dl101.train", "hydra.run.dir=/etc/hostname/run", check=False)
    assert error_line(result) == "Error: not a directory (/etc/hostname/run): check the path"


def test_a_folder_without_runs_is_one_line(tmp_path):
    line = error_line(run_module("dl101.report", str(tmp_path), check=False))
    assert line.startswith(f"Error: {tmp_path}: no runs here")


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/r/checkpoints/.last.ckpt.x.part"),
            "no space left on the device (/r/checkpoints): free some space there;",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/r/logs"),
            "permission denied (/r/logs): make it writable, or write elsewhere",
        ),
        (
            OSError(errno.EROFS, "Read-only file system", "/mnt/ro/run"),
            "read-only file system (/mnt/ro/run): make it writable, or write elsewhere",
        ),
        (
            FileNotFoundError(errno.ENOENT, "No such file or directory", "/x/y.txt"),
            "no such file or directory (/x/y.txt): check the path",
        ),
    ],
)
def test_each_anticipated_os_error_says_what_where_and_what_to_do(error, line):
    assert one_line(error).startswith(line)


def test_an_error_is_found_inside_hydras_wrapper_and_the_unexpected_is_left_alone():
    try:
        try:
            raise ConfigError("data.val_size=0: must be between 1 and 59999")
        except ConfigError as cause:
            raise InstantiationException("Error in call to target 'MNISTDataModule'") from cause
    except InstantiationException as wrapped:
        assert one_line(wrapped) == "data.val_size=0: must be between 1 and 59999"
    assert one_line(KeyError("bug")) is None
    assert one_line(OSError(errno.EIO, "I/O error")) is None  # not one a user can act on
    with pytest.raises(KeyError), error_boundary():
        raise KeyError("a bug keeps its traceback")


def test_hydra_full_error_shows_the_traceback_of_an_anticipated_error(monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(InputError), error_boundary():
        raise InputError("ckpt_path=x: no such file")
    monkeypatch.delenv("HYDRA_FULL_ERROR")
    with pytest.raises(SystemExit) as ended, error_boundary():
        raise InputError("ckpt_path=x: no such file")
    assert ended.value.code == 1


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "model._target_=my_models.TinyCNN",
            "Error: model._target_=my_models.TinyCNN: no module named my_models on Python's "
            f"search path ({PROJECT_ROOT}",
        ),
        (
            "model._target_=dl101.models.TinyCNN",
            "Error: model._target_=dl101.models.TinyCNN: dl101.models "
            f"({PROJECT_ROOT / 'src/dl101/models/__init__.py'}) has no TinyCNN (it has CNN, MLP,",
        ),
        (
            "+model.widht=8",
            "Error: model.widht: MLP takes no argument widht (MLP(input_shape, num_classes, "
            "hidden_sizes, activation, dropout, init, init_std, **classifier_args) -> "
            "Classifier(num_classes, **model_args) -> Model(optimizer, scheduler, "
            "scheduler_interval)): remove it (~model.widht) or give one of those",
        ),
    ],
)
def test_a_target_naming_nothing_or_a_key_its_constructor_lacks_is_one_line(
    tmp_path, override, line
):
    result = run_module("dl101.train", "model=mlp", override, f"hydra.run.dir={tmp_path}/run",
                        check=False)  # fmt: skip
    assert error_line(result).startswith(line)


def test_what_a_target_lacks_is_named_in_process(tmp_path, monkeypatch):
    """A module that imports a package that is not installed, a name it does not define, a
    required argument not given: each one line; any other error of one's code keeps its
    traceback (a syntax error is a bug to read, not a fault to report)."""
    (tmp_path / "mine.py").write_text("import not_installed_anywhere\n")
    (tmp_path / "ok.py").write_text(
        "class Net:\n    def __init__(self, width, **kw):\n        pass\n"
    )
    (tmp_path / "broken.py").write_text("def (:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(InputError, match="^model._target_=mine.Net: module mine imports "
                       "not_installed_anywhere, which is not installed"):  # fmt: skip
        locate("mine.Net", "model._target_")
    with pytest.raises(InputError, match=r"^data._target_=ok.Nett: ok \(.*ok.py\) has no Nett "
                       r"\(it has Net\): check the name$"):  # fmt: skip
        locate("ok.Nett", "data._target_")
    with pytest.raises(SyntaxError):
        locate("broken.Net", "model._target_")
    try:
        instantiate(OmegaConf.create({"model": {"_target_": "ok.Net"}}).model)
    except InstantiationException as err:
        assert one_line(err) == "model: Net needs width (Net(width, **kw)): give model.width=..."
