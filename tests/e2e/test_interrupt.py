"""Ctrl-C or kill -9 in the middle of a study, then `metaml run` again: nothing lost, nothing repeated."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from metaml import Study, TrialStatus
from tests.e2e.conftest import popen_cli, run_cli, study_yaml


def _finished(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("select count(*) from trials where status = 'completed'").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _wait_for(db: Path, count: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while _finished(db) < count:
        if time.time() > deadline:
            raise AssertionError(f"fewer than {count} trials finished in {timeout} s")
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_interrupted_study_resumes_with_exactly_the_budget(study_dir: Path, sig: signal.Signals) -> None:
    (study_dir / "study.yaml").write_text(study_yaml(trials=12))
    db = study_dir / "runs" / "tiny" / "study.db"
    env = {"TINY_SLEEP": "0.4"}
    proc = popen_cli(["run", "study.yaml"], study_dir, env)
    _wait_for(db, 3)
    time.sleep(0.2)  # land in the middle of a trial
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    if sig is signal.SIGINT:
        assert proc.returncode == 130, err
        assert "Run the same command again to resume" in out
        assert "Traceback" not in err
    interrupted = Study.load("tiny", db).trials()
    assert any(t.status in (TrialStatus.PENDING, TrialStatus.RUNNING) for t in interrupted)
    assert len(interrupted) < 12

    result = run_cli(["run", "study.yaml"], study_dir, env)
    assert result.returncode == 0, result.stderr
    study = Study.load("tiny", db)
    trials = study.trials()
    numbers = [t.number for t in trials]
    assert numbers == list(range(12)), numbers
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    requeued = [e for e in study.store.events(study.id) if e.kind == "requeued"]
    assert len(requeued) == 1
    assert ("interrupted" if sig is signal.SIGINT else "no longer running") in requeued[0].message
