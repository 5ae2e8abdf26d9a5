"""The report of a 200-trial study renders in under 5 s and weighs under 10 MB."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from metaml.report import write_report

from .conftest import build_study

TRIALS = 200
MAX_SECONDS = 5.0
MAX_BYTES = 10_000_000


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder in memory where there is one: SQLite's commits cost milliseconds each on a disk."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm) as folder:
            yield Path(folder)
    else:
        yield tmp_path


def test_a_200_trial_report_is_fast_and_small(fast_dir: Path, tmp_path: Path) -> None:
    study = build_study(fast_dir, TRIALS, name="big", fail_every=17)
    assert len(study.trials()) == TRIALS
    assert any(t.continue_from is not None for t in study.trials())  # promotions, as Hyperband makes them
    out = tmp_path / "big.html"
    started = time.perf_counter()
    data = write_report(study, out)
    seconds = time.perf_counter() - started
    size = out.stat().st_size
    assert data.front and data.ablation is not None and len(data.observations) > TRIALS
    assert seconds < MAX_SECONDS, f"the report took {seconds:.2f} s"
    assert size < MAX_BYTES, f"the report weighs {size / 1e6:.1f} MB"
