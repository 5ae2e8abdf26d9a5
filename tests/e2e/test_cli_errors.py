"""Every mistake a user can make in a study file gets one clear line and a non-zero exit."""

from __future__ import annotations

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
