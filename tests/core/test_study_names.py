"""A study's name becomes a folder under artifacts/: one that could point outside it is refused, and nothing is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaml import Float, Space, Study
from metaml.errors import MetamlError

SPACE = Space({"x": Float(0.0, 1.0)})


@pytest.mark.parametrize("name", ["../evil", "a/../../b", "a/b", "a\\b", "..", ".", "/abs", "x\x00y", "", "  "])
def test_a_name_that_is_not_one_folder_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(MetamlError):
        Study.create(name, SPACE, "loss", store=tmp_path / "study.db", artifacts=tmp_path / "artifacts")
    assert list(tmp_path.iterdir()) == []  # no store, no folder made


@pytest.mark.parametrize("name", ["plain", "with.dots", "under_score-and-dash", "ünïcode", "a..b"])
def test_ordinary_names_are_fine(tmp_path: Path, name: str) -> None:
    study = Study.create(name, SPACE, "loss", store=tmp_path / "study.db")
    assert study.name == name
    study.store.close()
