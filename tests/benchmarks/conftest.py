"""Make the top-level ``benchmarks`` package importable, and keep every cache in a temporary folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``benchmarks/`` is not installed; pytest alone does not put the root first
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def bench_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Targets computed by a test go to its own folder, never to the repository's cache."""
    folder = tmp_path / "bench-cache"
    monkeypatch.setenv("METAML_BENCH_CACHE", str(folder))
    yield folder


@pytest.fixture
def lcbench_or_skip():  # type: ignore[no-untyped-def]
    """The LCBench module, or a skip that says why (no surrogate data, or no onnxruntime)."""
    from benchmarks.problems.base import ProblemUnavailable
    from benchmarks.problems.lcbench import LCBench

    try:
        LCBench(3945)
    except ProblemUnavailable as exc:
        pytest.skip(str(exc))
    return LCBench
