"""Every mistake a user can make in a study file gets one clear line and a non-zero exit."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli, study_yaml


def _fails(study_dir: Path, text: str, code: int = 2) -> str:
    (study_dir / "bad.yaml").write_text(text)
    result = run_cli(["run", "bad.yaml"], study_dir)
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not (study_dir / "runs").exists() or not any((study_dir / "runs").iterdir())
    return result.stderr


def test_invalid_yaml_names_the_line(study_dir: Path) -> None:
    message = _fails(study_dir, "name: x\nspace: [unclosed\n")
    assert "bad.yaml:" in message and "not valid YAML" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("lower: 0.0, upper: 1.0", "lower: 1.0, upper: 0.0", "space.x"),
        ("type: float", "type: flaot", "'type' must be one of"),
        ("log: true", "log: true, prior: 100", "prior 100 lies outside"),
        ("{name: loss, goal: min}", "{name: loss, goal: lowest}", "goal must be 'min' or 'max'"),
        ("budget: {trials: 6}", "budget: {trials: -1}", "field 'budget'"),
        ("seed: 3", "seed: 3\nsurprise: 1", "field 'surprise': unknown field"),
    ],
)
def test_bad_fields_name_the_field_and_line(study_dir: Path, old: str, new: str, expected: str) -> None:
    text = study_yaml()
    assert old in text
    message = _fails(study_dir, text.replace(old, new, 1))
    assert expected in message
    assert "bad.yaml:" in message


def test_nested_parameter_error_points_at_its_line(study_dir: Path) -> None:
    text = study_yaml().replace("depth: {type: int, lower: 1, upper: 3}", "depth: {type: int, lower: 1.5, upper: 3}")
    message = _fails(study_dir, text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "depth:" in row)
    assert f"bad.yaml:{line}:" in message and "whole number" in message


def test_unknown_module_says_what_it_tried(study_dir: Path) -> None:
    message = _fails(study_dir, study_yaml(function="nosuchmodule:train"))
    assert "cannot import the module 'nosuchmodule'" in message and str(study_dir) in message


def test_unknown_function_lists_what_the_module_has(study_dir: Path) -> None:
    message = _fails(study_dir, study_yaml(function="tiny:nosuch"))
    assert "no function 'nosuch'" in message and "train" in message


def test_unknown_optimizer_lists_the_known_ones(study_dir: Path) -> None:
    message = _fails(study_dir, study_yaml(extra="optimizer: magic\n"))
    assert "unknown optimizer 'magic'" in message and "random" in message


def test_missing_file_and_missing_budget(study_dir: Path) -> None:
    result = run_cli(["run", "nope.yaml"], study_dir)
    assert result.returncode == 2 and "no study file at nope.yaml" in result.stderr
    message = _fails(study_dir, study_yaml().replace("budget: {trials: 6}\n", ""))
    assert "no budget" in message


def test_debug_shows_the_traceback(study_dir: Path) -> None:
    (study_dir / "bad.yaml").write_text(study_yaml(function="tiny:nosuch"))
    result = run_cli(["--debug", "run", "bad.yaml"], study_dir)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_changing_the_space_of_an_existing_study_is_refused(study_dir: Path) -> None:
    assert run_cli(["run", "study.yaml", "--budget", "trials=1"], study_dir).returncode == 0
    text = study_yaml().replace("upper: 8", "upper: 16")
    (study_dir / "study.yaml").write_text(text)
    result = run_cli(["run", "study.yaml"], study_dir)
    assert result.returncode == 1 and "with a different space" in result.stderr


# ------------------------------------------------------------------ command-line values


def test_a_budget_that_cannot_be_read_is_a_usage_error(study_dir: Path) -> None:
    for command in (["run", "study.yaml"], ["worker", "study.yaml"]):
        result = run_cli([*command, "--budget", "trials=abc"], study_dir)
        assert result.returncode == 2, result.stdout + result.stderr  # docs/cli.md: usage errors exit 2
        assert "trials=abc" in result.stderr and "Traceback" not in result.stderr
    assert not (study_dir / "runs").exists()  # refused before anything was created


def test_a_url_whose_driver_is_missing_says_which_package_and_which_urls_work(study_dir: Path) -> None:
    result = run_cli(["studies", "--store", "mysql://user@localhost/db"], study_dir)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "'MySQLdb'" in result.stderr and "postgresql+psycopg://" in result.stderr and "sqlite" in result.stderr


def test_a_folder_as_the_store_says_it_is_a_folder_and_suggests_a_file(study_dir: Path) -> None:
    from metaml.store import SQLStore

    SQLStore(study_dir / "runs" / "tiny" / "study.db").close()
    result = run_cli(["studies", "--store", "runs/"], study_dir)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "folder" in result.stderr and "<name>/study.db" in result.stderr
    assert str(Path("tiny") / "study.db") in result.stderr  # the store the folder holds


# ------------------------------------------------------------------ foreign databases


def _foreign_db(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE studies (study_id INTEGER PRIMARY KEY, study_name TEXT)")
        conn.execute("CREATE TABLE version_info (version_info_id INTEGER PRIMARY KEY, schema_version INTEGER)")
        conn.execute("INSERT INTO studies VALUES (1, 'tiny')")
    conn.close()


def _folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.slow  # over 10 s: in `make slow`
def test_commands_never_write_to_a_database_that_is_not_a_metaml_store(study_dir: Path) -> None:
    _foreign_db(study_dir / "optuna.db")
    before = _folder_state(study_dir)
    commands = [
        ["studies", "--store", "optuna.db"],
        ["status", "--store", "optuna.db", "--study", "tiny"],
        ["trials", "--store", "optuna.db", "--study", "tiny"],
        ["pareto", "--store", "optuna.db", "--study", "tiny"],
        ["run", "study.yaml", "--store", "optuna.db"],
    ]
    for command in commands:
        result = run_cli(command, study_dir)
        assert result.returncode != 0, command
        assert "not a metaml store" in result.stderr and "Traceback" not in result.stderr, (command, result.stderr)
        assert _folder_state(study_dir) == before, command  # not a byte written, no -wal or -shm file made


# ------------------------------------------------------------------ user text is printed as text

HOSTILE_MODULE = '''
def train(config, trial):
    raise RuntimeError("[/] bad [bold]markup[/bold] in an error")
'''
MARKUP = "[/] bad [bold]markup[/bold] in an error"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _hostile(study_dir: Path) -> None:
    (study_dir / "hostile.py").write_text(HOSTILE_MODULE)
    (study_dir / "hostile.yaml").write_text(study_yaml(name="hostile", function="hostile:train", trials=3))


def _trial_count(study_dir: Path) -> int:
    result = run_cli(["trials", "hostile.yaml", "--json"], study_dir)
    assert result.returncode == 0, result.stderr
    return len(json.loads(result.stdout))


@pytest.mark.parametrize("terminal", [False, True], ids=["log", "progress-bar"])
def test_markup_in_a_trial_error_is_printed_as_text_by_run(study_dir: Path, terminal: bool) -> None:
    _hostile(study_dir)
    env = {"TTY_COMPATIBLE": "1"} if terminal else {}
    result = run_cli(["run", "hostile.yaml"], study_dir, env=env)
    out = _ANSI.sub("", result.stdout + result.stderr)
    assert "MarkupError" not in out and "closing tag" not in out, out
    failed = [row for row in out.splitlines() if "failed" in row and MARKUP in row]
    assert len(failed) >= 3, out  # each failed trial is said, its error as written
    assert _trial_count(study_dir) == 3  # the whole budget in one run, not one trial per invocation


def test_markup_in_a_trial_error_is_printed_as_text_by_worker(study_dir: Path) -> None:
    _hostile(study_dir)
    run_cli(["run", "hostile.yaml", "--budget", "trials=1"], study_dir)
    result = run_cli(["worker", "hostile.yaml", "--budget", "trials=3"], study_dir)
    out = result.stdout + result.stderr
    assert "MarkupError" not in out and "Traceback" not in out, out
    assert sum(MARKUP in row for row in out.splitlines()) >= 2, out
    assert _trial_count(study_dir) == 3


def test_markup_in_an_error_message_is_printed_as_text(study_dir: Path) -> None:
    message = _fails(study_dir, study_yaml(function="nomod[/]x:train"))
    assert "nomod[/]x" in message


def test_a_misspelt_pipeline_parameter_is_refused_before_any_trial(study_dir: Path) -> None:
    text = (
        "name: typo\nfunction: metaml.pipelines.tabular:train\nspace:\n"
        "  dataset: {type: constant, value: breast_cancer}\n"
        "  dropuot: {type: float, lower: 0.0, upper: 0.5}\n"
        "objectives: [{name: val_error, goal: min}]\nbudget: {trials: 2}\n"
    )
    message = _fails(study_dir, text)  # every trial would fail on it, and the run would end "done"
    assert "bad.yaml: space.dropuot: the tabular pipeline has no parameter 'dropuot' (did you mean 'dropout'?)" in message
