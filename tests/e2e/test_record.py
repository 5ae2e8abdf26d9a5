"""A record you can trust, through `metaml run` as a user meets it: study identity, exact cost,
strict budgets, the failure policy, signals, and a store found from any folder (issue 12)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import textwrap
import time
from pathlib import Path

import pytest

from metaml import Study, TrialStatus
from metaml.execution.signals import parent_alive
from tests.e2e.conftest import popen_cli, run_cli

MODULE = '''
"""Training functions that checkpoint every epoch, as a real one does."""
import os
import time


def train(config, trial):
    start = trial.restore()
    loss = 1.0
    for epoch in range(int(start) + 1, int(trial.fidelity) + 1):
        time.sleep(float(os.environ.get("EPOCH_SLEEP", "0")))
        loss = (config["x"] - 0.3) ** 2 + 1.0 / epoch
        trial.report(epoch, loss=loss)
        trial.checkpoint(epoch)
        if trial.should_stop():
            break
    return {"loss": loss}


def always_fails(config, trial):
    return {}["no such metric"]
'''


def _yaml(name: str = "rec", optimizer: str = "random", upper: int = 9, extra: str = "", function: str = "ckpt:train") -> str:
    return textwrap.dedent(
        f"""\
        name: {name}
        function: {function}
        seed: 1
        optimizer: {optimizer}
        space:
          x: {{type: float, lower: 0.0, upper: 1.0}}
          epochs: {{type: fidelity, lower: 1, upper: {upper}}}
        objectives: [loss]
        budget: {{trials: 4}}
        """
    ) + extra


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "ckpt.py").write_text(MODULE)
    (tmp_path / "study.yaml").write_text(_yaml())
    return tmp_path


def _rows(db: Path, query: str) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return list(conn.execute(query).fetchall())
    except sqlite3.OperationalError:
        return []


def _wait(predicate, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


# ------------------------------------------------------------------ 1. identity
@pytest.mark.slow  # over 10 s: in `make slow`
def test_a_study_of_the_same_name_in_another_store_trains_its_own_models(folder: Path) -> None:
    first = run_cli(["run", "study.yaml", "--store", "a.db", "--budget", "trials=4"], folder)
    assert first.returncode == 0, first.stderr
    second = run_cli(["run", "study.yaml", "--store", "b.db", "--budget", "trials=4"], folder)
    assert second.returncode == 0, second.stderr
    a, b = Study.load("rec", folder / "a.db"), Study.load("rec", folder / "b.db")
    assert a.uid and b.uid and a.uid != b.uid
    assert a.artifacts == b.artifacts and a.artifacts_directory != b.artifacts_directory
    for t in b.trials():
        assert t.start_step == 0.0 and t.cost_fte == pytest.approx(1.0)  # trained, not restored from a.db's
    assert b.cost_fte() == pytest.approx(a.cost_fte())


def test_a_study_made_again_after_its_store_was_deleted_trains_afresh(folder: Path) -> None:
    assert run_cli(["run", "study.yaml"], folder).returncode == 0
    db = folder / "runs" / "rec" / "study.db"
    before = Study.load("rec", db).cost_fte()
    for path in db.parent.glob("study.db*"):
        path.unlink()
    again = run_cli(["run", "study.yaml"], folder)
    assert again.returncode == 0, again.stderr
    study = Study.load("rec", db)
    assert [t.start_step for t in study.trials()] == [0.0] * 4
    assert study.cost_fte() == pytest.approx(before) == pytest.approx(4.0)


def test_a_checkpoint_of_another_study_is_refused_not_loaded(folder: Path) -> None:
    assert run_cli(["run", "study.yaml", "--store", "a.db", "--budget", "trials=1"], folder).returncode == 0
    a = Study.load("rec", folder / "a.db")
    b = Study.create("rec", a.space, "loss", store=folder / "b.db", seed=1)
    # someone copies a's checkpoint of trial 0 by hand into b's folder for its trial 0
    target = b.trial_directory(0)
    target.mkdir(parents=True)
    shutil.copy(a.trial_directory(0) / "checkpoint.pt", target / "checkpoint.pt")
    import sys

    sys.path.insert(0, str(folder))
    try:
        from ckpt import train  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(folder))
    b.optimize(train, budget={"trials": 1}, settings={"max_failures": None})
    trial = b.trials()[0]
    assert trial.status is TrialStatus.FAILED and trial.cost_fte == 0.0
    assert str(target / "checkpoint.pt") in (trial.error or "") and a.uid in (trial.error or "")


# ------------------------------------------------------------------ 2. exact cost
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_epochs_of_an_interrupted_trial_are_charged(folder: Path, sig: signal.Signals) -> None:
    (folder / "study.yaml").write_text(_yaml(upper=10).replace("trials: 4", "trials: 1"))
    db = folder / "runs" / "rec" / "study.db"
    proc = popen_cli(["run", "study.yaml", "--no-default-first"], folder, {"EPOCH_SLEEP": "0.15"})
    _wait(lambda: len(_rows(db, "select id from observations")) >= 4)
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    resumed = run_cli(["run", "study.yaml"], folder)
    assert resumed.returncode == 0, resumed.stderr
    study = Study.load("rec", db)
    (trial,) = study.trials()
    steps = [o.step for o in study.store.observations(study.id, 0)]
    assert trial.status is TrialStatus.COMPLETED and steps == [float(i) for i in range(1, 11)]  # each point once
    (requeued,) = study.store.events(study.id, ["requeued"])
    first_run = requeued.data["cost_fte"]  # what the interrupted run reported, charged when it was requeued
    assert first_run >= 0.4 - 1e-9 and first_run * 10 >= trial.start_step  # it trained at least up to its checkpoint
    # every epoch reported was paid for, the ones trained again after the restore included
    assert trial.cost_fte == pytest.approx(first_run + (10 - trial.start_step) / 10) and trial.cost_fte >= 1.0


# ------------------------------------------------------------------ 3. strict budgets
@pytest.mark.parametrize("fte", ["4", "8"])
def test_hyperband_never_spends_more_than_its_fte_budget(folder: Path, fte: str) -> None:
    text = _yaml(optimizer="{name: hyperband, eta: 3}", upper=27).replace("trials: 4", "fte: 100")
    (folder / "study.yaml").write_text(text)
    result = run_cli(["run", "study.yaml", "--budget", f"fte={fte}"], folder)
    assert result.returncode == 0, result.stderr
    study = Study.load("rec", folder / "runs" / "rec" / "study.db")
    assert float(fte) - 1.0 < study.cost_fte() <= float(fte) + 1e-9
    assert "done:" in result.stdout


def test_two_workers_together_never_overshoot_the_fte_budget(folder: Path) -> None:
    (folder / "study.yaml").write_text(_yaml(upper=4).replace("trials: 4", "fte: 100"))
    result = run_cli(["run", "study.yaml", "--workers", "2", "--budget", "fte=2.5"], folder, {"EPOCH_SLEEP": "0.05"})
    assert result.returncode == 0, result.stderr
    study = Study.load("rec", folder / "runs" / "rec" / "study.db")
    assert study.cost_fte() <= 2.5 + 1e-9
    assert study.cost_fte() == pytest.approx(2.0)  # full runs of 1 FTE: a third would not fit


# ------------------------------------------------------------------ 4. failure policy
def test_a_function_that_always_fails_stops_after_ten_and_exits_non_zero(folder: Path) -> None:
    (folder / "study.yaml").write_text(_yaml(function="ckpt:always_fails").replace("trials: 4", "fte: 1"))
    result = run_cli(["run", "study.yaml"], folder, timeout=60)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "KeyError" in result.stderr
    study = Study.load("rec", folder / "runs" / "rec" / "study.db")
    assert len(study.trials()) == 10 and all(t.status is TrialStatus.FAILED for t in study.trials())


def test_fail_fast_stops_at_the_first_failure(folder: Path) -> None:
    (folder / "study.yaml").write_text(_yaml(function="ckpt:always_fails", extra="execution: {fail_fast: true}\n"))
    result = run_cli(["run", "study.yaml"], folder)
    assert result.returncode == 1
    assert len(Study.load("rec", folder / "runs" / "rec" / "study.db").trials()) == 1


# ------------------------------------------------------------------ 5. signals
def _worker_pids(db: Path) -> set[int]:
    return {int(w.rsplit(":", 1)[1]) for (w,) in _rows(db, "select worker from trials where worker is not null")}


def test_sigterm_stops_a_run_with_workers_like_ctrl_c(folder: Path) -> None:
    (folder / "study.yaml").write_text(_yaml(upper=10).replace("trials: 4", "trials: 20"))
    db = folder / "runs" / "rec" / "study.db"
    proc = popen_cli(["run", "study.yaml", "--workers", "2"], folder, {"EPOCH_SLEEP": "0.1"})
    _wait(lambda: len(_rows(db, "select id from trials where status = 'running'")) == 2)
    pids = _worker_pids(db)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=40)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    _wait(lambda: not any(parent_alive(p) for p in pids), timeout=10)
    statuses = [s for (s,) in _rows(db, "select status from trials")]
    assert "running" not in statuses and "pending" in statuses  # the interrupted trials went back to the queue
    charged = _rows(db, "select sum(cost_fte) from trials where status = 'pending'")[0][0]
    assert charged > 0  # and what they trained is paid for


def test_workers_leave_when_their_parent_is_killed(folder: Path) -> None:
    (folder / "study.yaml").write_text(_yaml(upper=10).replace("trials: 4", "trials: 20"))
    db = folder / "runs" / "rec" / "study.db"
    proc = popen_cli(["run", "study.yaml", "--workers", "2"], folder, {"EPOCH_SLEEP": "0.1"})
    _wait(lambda: len(_rows(db, "select id from trials where status = 'running'")) == 2)
    pids = _worker_pids(db)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    _wait(lambda: not any(parent_alive(p) for p in pids), timeout=15)
    count = len(_rows(db, "select id from trials"))
    time.sleep(1.0)
    assert len(_rows(db, "select id from trials")) == count  # nobody claims trials any more
    assert not _rows(db, "select id from trials where status = 'running'")


# ------------------------------------------------------------------ 6. the store beside the file
def test_every_command_finds_the_study_beside_its_file_from_any_folder(folder: Path) -> None:
    work = folder / "work"
    work.mkdir()
    shutil.move(str(folder / "study.yaml"), work / "bc.yaml")
    shutil.move(str(folder / "ckpt.py"), work / "ckpt.py")
    assert run_cli(["run", "work/bc.yaml", "--budget", "trials=2"], folder).returncode == 0
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    status = run_cli(["status", "../work/bc.yaml", "--json"], elsewhere)
    assert status.returncode == 0, status.stderr
    assert (work / "runs" / "rec" / "study.db").exists() and not (elsewhere / "runs").exists()
    resumed = run_cli(["run", "../work/bc.yaml", "--budget", "trials=3"], elsewhere)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming: 2 trials" in resumed.stdout
    assert len(Study.load("rec", work / "runs" / "rec" / "study.db").trials()) == 3
