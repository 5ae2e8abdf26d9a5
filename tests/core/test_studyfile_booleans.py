"""YAML 1.1 booleans (on/off/yes/no) in a study file: a clear error with the line, never a silent True."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaml.errors import StudyFileError
from metaml.studyfile import load_study_file

HEAD = "name: b\nfunction: m:f\nobjectives: [loss]\nspace:\n"


@pytest.mark.parametrize(
    "space,line,word",
    [
        ("  switch: {type: categorical, choices: [off, on]}\n", 5, "off"),
        ("  switch:\n    type: categorical\n    choices:\n      disabled: {}\n      On: {}\n", 9, "On"),
        ("  keep: {type: constant, value: yes}\n", 5, "yes"),
    ],
)
def test_an_unquoted_yaml11_boolean_is_refused_with_its_line(tmp_path: Path, space: str, line: int, word: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + space)
    with pytest.raises(StudyFileError) as info:
        load_study_file(path)
    message = str(info.value)
    assert f"s.yaml:{line}:" in message and repr(word) in message and "true or false" in message


def test_true_false_and_quoted_words_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + "  a: {type: categorical, choices: [true, false]}\n  b: {type: categorical, choices: ['on', \"off\"]}\n")
    spec = load_study_file(path)
    assert spec.space.parameters["a"].choices == (True, False)  # type: ignore[union-attr]
    assert spec.space.parameters["b"].choices == ("on", "off")  # type: ignore[union-attr]
