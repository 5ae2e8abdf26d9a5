"""Supervision and fencing through the real CLI (issue 13): limits every executor enforces, workers
that die in every way, a stale worker fenced off, checkpoints that lie."""

from __future__ import annotations

import signal
import sqlite3
import textwrap
import time
from pathlib import Path

import pytest

from metaml import Study, TrialStatus
from metaml.errors import MetamlError
from metaml.execution.ray_executor import run_ray
from metaml.execution.settings import ExecutionSettings
from tests.e2e.conftest import popen_cli, run_cli

MODULE = '''
"""Trial functions that misbehave on purpose."""
import os
import signal
import sys
import time

import torch


def _curve(config, trial, sleep=0.0):
    start = trial.restore()
    loss = 1.0
    for epoch in range(int(start) + 1, int(trial.fidelity) + 1):
        time.sleep(sleep)
        loss = (config["x"] - 0.3) ** 2 + 1.0 / epoch
        trial.report(epoch, loss=loss)
        trial.checkpoint(epoch)
    return {"loss": loss}


def train(config, trial):
    return _curve(config, trial, float(os.environ.get("EPOCH_SLEEP", "0")))


def hangs(config, trial):
    trial.report(1, loss=1.0)
    time.sleep(600)


def exits(config, trial):
    if trial.number == 1:
        sys.exit(0)
    return _curve(config, trial)


def crashes_once(config, trial):
    if trial.record.attempt == 1:  # every trial's first run kills its worker process
        os.kill(os.getpid(), signal.SIGSEGV if trial.number % 2 else signal.SIGKILL)
    return _curve(config, trial)


def segfaults_once(config, trial):
    if trial.number == 1 and trial.record.attempt == 1:
        os.kill(os.getpid(), signal.SIGSEGV)
    return _curve(config, trial)


def slow_once(config, trial):
    return _curve(config, trial, 0.25)
'''


def _yaml(function: str = "misc:train", trials: int = 4, extra: str = "") -> str:
    return textwrap.dedent(
        f"""\
        name: sup
        function: {function}
        seed: 2
        space:
          x: {{type: float, lower: 0.0, upper: 1.0}}
          epochs: {{type: fidelity, lower: 1, upper: 6}}
        objectives: [loss]
        budget: {{trials: {trials}}}
        """
    ) + extra


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "misc.py").write_text(MODULE)
    return tmp_path


def _db(folder: Path) -> Path:
    return folder / "runs" / "sup" / "study.db"


def _study(folder: Path) -> Study:
    return Study.load("sup", _db(folder))


def _create(folder: Path, function: str, trials: int, execution: dict) -> Study:
    """A study that `metaml worker study.yaml` can join, as `metaml run` leaves it."""
    from metaml.studyfile import load_study_file

    (folder / "study.yaml").write_text(_yaml(function, trials=trials))
    spec = load_study_file(folder / "study.yaml")
    study = Study.create("sup", spec.space, spec.objectives, store=_db(folder), seed=2)
    study.store.update_study_info(study.id, {
        "function": function, "function_dir": str(folder), "budget": {"trials": trials}, "execution": execution,
    })  # fmt: skip
    return study


@pytest.mark.slow  # over 10 s: in `make slow`
def test_metaml_worker_enforces_the_trial_timeout(folder: Path) -> None:
    _create(folder, "misc:hangs", 2, {"timeout": 2})
    began = time.time()
    joined = run_cli(["worker", "study.yaml"], folder, timeout=60)
    assert time.time() - began < 30
    trials = _study(folder).trials()
    assert len(trials) == 2 and all(t.status is TrialStatus.FAILED and "timed out" in (t.error or "") for t in trials)
    assert joined.returncode == 0, joined.stderr


def test_ray_refuses_limits_it_cannot_enforce(folder: Path) -> None:
    (folder / "study.yaml").write_text(_yaml())
    from metaml.execution.local import FunctionRef
    from metaml.studyfile import load_study_file

    spec = load_study_file(folder / "study.yaml")
    study = Study.create("sup", spec.space, spec.objectives, store=folder / "r.db")
    with pytest.raises(MetamlError, match="timeout"):
        run_ray(study, FunctionRef(spec="misc:train", base_dir=str(folder)), spec.budget,  # type: ignore[arg-type]
                ExecutionSettings(executor="ray", timeout=5))  # fmt: skip


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_trial_that_calls_sys_exit_is_recorded_and_the_run_goes_on(folder: Path, executor: str) -> None:
    (folder / "study.yaml").write_text(_yaml("misc:exits"))
    result = run_cli(["run", "study.yaml", "--executor", executor], folder, timeout=90)
    assert result.returncode == 0, result.stderr
    trials = _study(folder).trials()
    assert len(trials) == 4
    assert trials[1].status is TrialStatus.FAILED and "sys.exit(0)" in (trials[1].error or "")
    assert [t.status for t in trials if t.number != 1] == [TrialStatus.COMPLETED] * 3


@pytest.mark.slow  # over 10 s: in `make slow`
def test_workers_killed_by_their_trials_are_replaced_and_the_signal_recorded(folder: Path) -> None:
    (folder / "study.yaml").write_text(_yaml("misc:crashes_once", trials=6))
    result = run_cli(["run", "study.yaml", "--workers", "3"], folder, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    study = _study(folder)
    trials = study.trials()
    assert len(trials) == 6 and all(t.status is TrialStatus.COMPLETED for t in trials)
    assert all(t.retries == 1 for t in trials)  # each ran twice: the first run killed its worker
    requeued = " ".join(e.message for e in study.store.events(study.id, ["requeued"]))
    assert "SIGSEGV" in requeued and "SIGKILL" in requeued


def _rows(db: Path, query: str) -> list[tuple]:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return list(conn.execute(query).fetchall())
    except sqlite3.OperationalError:
        return []


def test_a_stale_worker_is_fenced_off_when_it_wakes_up(folder: Path) -> None:
    _create(folder, "misc:slow_once", 1, {"heartbeat": 0.2, "stale_after": 1.0})
    db = _db(folder)
    a = popen_cli(["worker", "study.yaml"], folder)
    deadline = time.time() + 30
    while not _rows(db, "select id from observations"):
        assert time.time() < deadline
        time.sleep(0.02)
    a.send_signal(signal.SIGSTOP)  # paused past the stale time
    time.sleep(1.6)
    b = run_cli(["worker", "study.yaml"], folder, timeout=60)  # requeues the trial and runs it
    a.send_signal(signal.SIGCONT)
    a_out, a_err = a.communicate(timeout=30)
    assert b.returncode == 0, b.stderr
    trial = Study.load("sup", db).trials()[0]
    assert trial.status is TrialStatus.COMPLETED and trial.attempt == 2
    steps = [s for (s,) in _rows(db, "select step from observations where trial_number = 0")]
    assert sorted(steps) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # no point twice, none from the fenced worker after
    assert "lost its claim" in a_err + a_out


def test_a_checkpoint_that_claims_too_many_steps_or_is_truncated_fails_its_trial(folder: Path) -> None:
    import torch

    (folder / "study.yaml").write_text(_yaml(trials=2))
    from metaml.studyfile import load_study_file

    spec = load_study_file(folder / "study.yaml")
    study = Study.create("sup", spec.space, spec.objectives, store=_db(folder), seed=2)
    lying = study.trial_directory(0) / "checkpoint.pt"
    lying.parent.mkdir(parents=True)
    torch.save({"step": 1000.0, "study_uid": study.uid, "trial": 0, "states": {}, "rng": {}}, lying)
    truncated = study.trial_directory(1) / "checkpoint.pt"
    truncated.parent.mkdir(parents=True)
    truncated.write_bytes(b"")
    import sys

    sys.path.insert(0, str(folder))
    try:
        from misc import train  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(folder))
    study.optimize(train, budget=2)
    first, second = study.trials()
    assert first.status is TrialStatus.FAILED and "1000" in (first.error or "") and str(lying) in (first.error or "")
    assert second.status is TrialStatus.FAILED and str(truncated) in (second.error or "")
    assert first.cost_fte == 0.0 and second.cost_fte == 0.0  # nothing was trained, nothing is charged


def test_a_segfault_in_a_single_process_run_is_said_and_recorded_and_the_rerun_finishes(folder: Path) -> None:
    (folder / "study.yaml").write_text(_yaml("misc:segfaults_once"))
    crashed = run_cli(["run", "study.yaml"], folder, timeout=60)
    assert crashed.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in crashed.stderr and "segfaults_once" in crashed.stderr
    again = run_cli(["run", "study.yaml"], folder, timeout=60)
    assert again.returncode == 0, again.stderr
    study = _study(folder)
    assert [t.status for t in study.trials()] == [TrialStatus.COMPLETED] * 4
    (requeued,) = study.store.events(study.id, ["requeued"])
    assert requeued.trial_number == 1 and "no longer running" in requeued.message
