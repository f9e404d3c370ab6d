"""The README and the guides (docs/guide/) as a new user reads them: every command in them runs
as typed, and every expected result or time they quote is the one its source (experiment file,
sweep preset, budget) holds."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from dl101 import CONFIG_DIR, PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
GUIDES = sorted((PROJECT_ROOT / "docs" / "guide").glob("*.md"))
EXPERIMENTS = PROJECT_ROOT / "docs" / "guide" / "experiments.md"
BIN = Path(sys.executable).parent
# Hydra command lines: module -> its config. Console scripts are the same entry points.
HYDRA_MODULES = {"dl101.train": "train", "dl101.evaluate": "eval", "dl101.predict": "predict",
                 "dl101.sample": "sample", "dl101.course": "course"}  # fmt: skip
SCRIPTS = {"dl101-train": "dl101.train", "dl101-eval": "dl101.evaluate",
           "dl101-predict": "dl101.predict", "dl101-sample": "dl101.sample",
           "dl101-course": "dl101.course", "dl101-report": "dl101.report"}  # fmt: skip
FLAGS = {"-m", "--multirun", "--help", "-h", "--info", "--cfg", "job", "all", "-sc"}
OURS = ("dl101", "benchmarks")  # the modules a README command runs with python -m
DURATION = re.compile(r"\b\d+(?:\.\d+)? (?:s|min)\b")


def code_lines(text: str) -> list[str]:
    """Every line of the fenced code blocks (continuations joined), and every backticked
    command in a table row: what a reader copies into a shell."""
    lines, block = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            block = not block
        elif block:
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1] + line.strip()
            else:
                lines.append(line.strip())
        elif line.startswith("|"):
            lines += re.findall(r"`((?:python -m dl101|make )[^`]*)`", line)
    return [line for line in lines if line]


def filled_in(line: str) -> str:
    """Placeholders a reader replaces (`<time>`, `<folder>`) replaced as a reader would."""
    return line.replace("<time>", "2026-11-30_09-15-02_123456").replace("<", "").replace(">", "")


def commands(text: str) -> list[tuple[list[str], str]]:
    """(argv, trailing comment) of each README line that runs dl101: `python -m dl101...`,
    a dl101 console script, `make ...`. Several commands in one table cell are split on ` / `.
    Commands on a folder of one's own (`-cd conf`) are run in one by tests/test_own_research."""
    found = []
    for line in code_lines(text):
        if " -cd conf " in line:
            continue
        for part in line.split(" / "):
            code, _, comment = part.partition("  #")
            try:
                argv = shlex.split(filled_in(code), comments=True)
            except ValueError:  # output shown in a block, not a command
                continue
            if argv[:2] == ["python", "-m"] and argv[2:3] and argv[2].startswith(OURS):
                found.append((argv[2:], comment))
            elif argv and (argv[0] in SCRIPTS or argv[0] == "make"):
                found.append(
                    (argv if argv[0] == "make" else [SCRIPTS[argv[0]], *argv[1:]], comment)
                )
    return [c for i, c in enumerate(found) if c not in found[:i]]  # a table repeats commands


def first_values(overrides: list[str]) -> list[str]:
    """A sweep's overrides with each swept key at its first value: one job's config."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    return [
        f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}"
        if o.is_sweep_override()
        else o.input_line
        for o in parsed
    ]


def compose_command(module: str, args: list[str]):
    """The config a Hydra command line composes (flags dropped, sweeps at their first value);
    raises as the command would on an unknown key, group or option."""
    overrides = [a for a in args if a not in FLAGS and not a.startswith("install=")]
    GlobalHydra.instance().clear()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose(
            HYDRA_MODULES[module], overrides=first_values(overrides), return_hydra_config=True
        )


@cache
def help_text(module: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def dry_run(argv: list[str]) -> list[str]:
    """`make -n ...`: the target exists; returns the dl101 commands it would run."""
    result = subprocess.run(
        ["make", "-n", *argv[1:]], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, f"{shlex.join(argv)}: {result.stderr.strip()}"
    return [
        line for line in result.stdout.splitlines() if re.search(r" -m (dl101|benchmarks)\.", line)
    ]


def check_command(argv: list[str], comment: str = "") -> None:
    """Fails, naming the README line, where it would fail as typed."""
    typed = shlex.join(argv)
    if argv[0] == "make":
        for line in dry_run(argv):
            words = shlex.split(line)
            check_command(words[words.index("-m") + 1 :], comment)
        return
    module, args = argv[0], argv[1:]
    if module in HYDRA_MODULES:
        try:
            cfg = compose_command(module, args)
        except Exception as err:
            raise AssertionError(f"README: `{typed}` does not compose: {err}") from err
        expected = (cfg.get("expected") or {}).get("time")
        if DURATION.search(comment) and expected:
            assert expected in comment, f"README: `{typed}` says {comment!r}, its source {expected}"
        return
    for flag in (a for a in args if a.startswith("--")):  # argparse command lines
        assert flag in help_text(module), f"README: `{typed}`: {module} has no {flag}"


README_COMMANDS = commands("\n".join(page.read_text() for page in [README, *GUIDES]))


def test_the_readme_says_how_to_put_the_venv_on_path_before_its_first_command():
    text = README.read_text()
    assert -1 < text.find("source .venv/bin/activate") < text.index("python -m dl101")


def test_the_readme_is_a_short_front_door_that_links_every_guide():
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    linked = set(re.findall(r"\]\(docs/guide/([\w-]+\.md)\)", text))
    assert linked == {page.name for page in GUIDES}


def test_the_readme_has_dozens_of_commands():
    modules = {argv[0] for argv, _ in README_COMMANDS}
    assert len(README_COMMANDS) >= 40
    assert {"make", *HYDRA_MODULES, "dl101.report", "benchmarks.bench"} <= modules


@pytest.mark.parametrize(
    ("argv", "comment"), README_COMMANDS, ids=[shlex.join(a)[:60] for a, _ in README_COMMANDS]
)
def test_every_readme_command_runs_as_typed(argv, comment):
    check_command(argv, comment)


def test_an_unknown_override_in_a_readme_line_fails_the_check():
    with pytest.raises(AssertionError, match="does not compose"):
        check_command(["dl101.train", "model.optimizer.lrr=0.05"])
    with pytest.raises(AssertionError, match="No rule to make target"):
        check_command(["make", "no-such-target"])


def experiment_table(text: str) -> list[list[str]]:
    section = text.split("# Experiments and what they give")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_the_experiment_tables_results_and_times_are_their_sources():
    """Each row's result cell is `<expected.result>; <expected.time>` of what its command
    composes (its experiment file, sweep preset, or train.yaml for the default run)."""
    rows = experiment_table(EXPERIMENTS.read_text())
    quoted = set()
    for command_cell, _, result in rows:
        (argv, _), *_ = commands(f"| {command_cell} |")
        words = argv
        if argv[0] == "make":  # the dl101 command it runs, after `make data`
            words = shlex.split(dry_run(argv)[-1])
            words = words[words.index("-m") + 1 :]
        cfg = compose_command(words[0], words[1:])
        assert cfg.expected, f"{command_cell}: its source has no `expected`"
        assert result == f"{cfg.expected.result}; {cfg.expected.time}", command_cell
        quoted.add(cfg.expected.result)
    sources = [
        *Path(CONFIG_DIR, "experiment").glob("*.yaml"),
        *Path(CONFIG_DIR, "sweep").glob("*.yaml"),
    ]
    stated = {OmegaConf.load(f).get("expected") for f in [*sources, Path(CONFIG_DIR, "train.yaml")]}
    assert quoted == {e.result for e in stated if e}  # every source has its row


@pytest.mark.parametrize("name", ["capacity", "regularization", "stability", "cnn"])
def test_the_sweep_tables_are_the_committed_sweep_reports(name):
    """`docs/results/<sweep>.md` is what `make sweep-<sweep>` wrote (report.md); the README
    shows its table unchanged."""
    report = (PROJECT_ROOT / "docs" / "results" / f"{name}.md").read_text().splitlines()
    table = "\n".join(line for line in report if line.startswith("|"))
    assert len(table.splitlines()) >= 6 and f"\n{table}\n" in EXPERIMENTS.read_text()


def test_the_course_table_and_figures_are_the_committed_course_report():
    """`docs/course.md` is what `make course`'s full run wrote: the README shows its table of the
    course's numbers beside ours unchanged, and figures that the report shows from docs/course/."""
    report = (PROJECT_ROOT / "docs" / "course.md").read_text()
    section = report.split("## The course's numbers beside ours")[1].split("\n## ")[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    readme = README.read_text()
    assert len(table.splitlines()) >= 20 and f"\n{table}\n" in readme
    shown = re.findall(r"\]\(docs/(course/[^)]+\.png)\)", readme)
    assert shown and all(f"]({name})" in report for name in shown)
    assert all((PROJECT_ROOT / "docs" / name).is_file() for name in shown)
    assert str(PROJECT_ROOT) not in report and "Runs: `logs/course/" in report  # no machine paths
