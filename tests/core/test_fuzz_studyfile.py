"""Fuzzing study files: every mutation of the quickstart file is a StudyFile or a StudyFileError, each in bounded time.

The long version (1,000 mutations, with each case's time and memory) is ``python -m
benchmarks.fuzz``; its figures are in docs/scaling.md under "Hostile input".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings

from benchmarks.fuzz import QUICKSTART, Mutation, check_study_bytes, mutate, mutations, time_limit

#: Seconds one case may take (the slowest measured is well under one).
CASE_SECONDS = 10.0
ORIGINAL = QUICKSTART.read_bytes()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each case writes its file (module-scoped: hypothesis runs many cases in one test)."""
    return tmp_path_factory.mktemp("fuzz")


@seed(20240613)
@settings(max_examples=150, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(mutations())
def test_a_mutated_study_file_is_a_study_or_a_study_file_error(folder: Path, edits: list[Mutation]) -> None:
    raw = mutate(ORIGINAL, edits)
    with time_limit(CASE_SECONDS):  # a hang fails the test with Hang
        assert check_study_bytes(raw, folder) in ("study", "refused")


def test_the_unmutated_file_is_a_study(folder: Path) -> None:
    with time_limit(CASE_SECONDS):
        assert check_study_bytes(ORIGINAL, folder) == "study"
