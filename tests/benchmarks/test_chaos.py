"""Fault injection (issue 13): real studies under kill -9 and stale-worker pauses lose, duplicate and
fence nothing; the checks of ``benchmarks.chaos`` catch what they claim to catch; and a bug it found."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.chaos import QUICK, check_store, run_backend, summarize, violations
from metaml import Fidelity, Float, Space, Study, TrialStatus

#: A bounded run: a handful of kills of workers, one of the coordinator, one pause.
SETTINGS = replace(QUICK, seed=3)


def _assert_targets(summary: dict) -> None:
    assert violations(summary) == [], summary["examples"]
    assert summary["worker_kills"] == SETTINGS.kills
    assert summary["coordinator_kills"] == SETTINGS.coordinator_kills
    assert summary["pauses"] == SETTINGS.pauses
    assert summary["trials"] > 0 and summary["cost_fte"] > 0
    assert summary["unfinished_studies"] == 0 and summary["reruns"] <= summary["studies"]


@pytest.mark.slow  # 18 s, the second longest of the default run (2026-12-07): in `make slow`, beside its twin
def test_chaos_sqlite(tmp_path: Path) -> None:
    results = run_backend("sqlite", SETTINGS, tmp_path)
    _assert_targets(summarize("sqlite", results, SETTINGS.budget_fte))


@pytest.mark.slow  # over 10 s: in `make slow`
@pytest.mark.postgres
def test_chaos_postgresql(tmp_path: Path, postgres_server) -> None:  # type: ignore[no-untyped-def]
    if postgres_server.url is None:
        pytest.skip(postgres_server.reason)
    if postgres_server.admin_url is None:
        pytest.skip("the PostgreSQL role cannot create databases (each study needs its own)")
    results = run_backend("postgresql", SETTINGS, tmp_path, admin_url=postgres_server.admin_url)
    _assert_targets(summarize("postgresql", results, SETTINGS.budget_fte))


def _study(tmp_path: Path) -> Study:
    space = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 9)})
    return Study.create("checks", space, ["loss"], store=tmp_path / "study.db", optimizer="asha", seed=0)


def _dead_worker() -> str:
    """The worker id of a process of this machine that has ended."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return f"{socket.gethostname()}:{gone.pid}"


def test_checks_count_what_fencing_should_have_refused(tmp_path: Path) -> None:
    """Writes forced past the fence (no claim token given) are each counted by the checks."""
    study = _study(tmp_path)
    store, sid = study.store, study.id
    first = study.ask("w:1")
    assert first is not None and first.attempt == 1
    store.add_observation(sid, first.number, 1.0, {"loss": 1.0, "a1": time.time()}, attempt=1)
    assert study.requeue(first, "paused too long")  # claim 1 ends here
    late = time.time() + 0.01
    store.add_observation(sid, first.number, 2.0, {"loss": 0.9, "a1": late})  # claim 1 writes after its end
    second = study.ask("w:2")
    assert second is not None and second.number == first.number and second.attempt == 2
    store.finish(sid, first.number, TrialStatus.COMPLETED, metrics={"loss": 0.5, "attempt": 1, "pid": 1},
                 start_step=1.0, end_step=2.0)  # claim 1's result, and its second step never charged
    check = check_store(store.url, "checks", 0.05, journal=[])
    assert check.fenced_points == 1
    assert check.fenced_results == 1
    assert check.unpaid_trials == 1
    assert check.overshoot_fte == pytest.approx(1 / 9 - 0.05)
    assert (check.missing, check.duplicated, check.duplicate_points, check.claims_unaccounted) == (0, 0, 0, 0)


def test_checks_count_a_claim_revoked_in_a_dead_workers_name(tmp_path: Path) -> None:
    study = _study(tmp_path)
    dead = _dead_worker()
    first = study.ask(dead)
    assert first is not None
    study.worker_died(dead, "was killed", 5)
    again = study.ask("other-host:42")
    assert again is not None and again.number == first.number
    study.store.requeue(study.id, first.number, f"lost: its worker {dead} was killed; returned", count_retry=True)
    journal = [{"pid": 42, "trial": first.number, "attempt": 2, "op": "restore", "t0": 0.0, "ok": True}]
    assert check_store(study.store.url, "checks", 10.0, journal).revoked_in_another_name == 1


def test_checks_count_a_claim_ended_in_the_name_of_a_worker_no_fault_hit(tmp_path: Path) -> None:
    study = _study(tmp_path)
    live = f"{socket.gethostname()}:{os.getpid()}"
    first = study.ask(live)
    assert first is not None
    assert study.store.recover_stale(study.id, 0.0, 5) == [first.number]  # its heartbeat is "stale" at once
    assert check_store(study.store.url, "checks", 10.0, [], faulted=set()).ended_unfaulted == 1
    assert check_store(study.store.url, "checks", 10.0, [], faulted={os.getpid()}).ended_unfaulted == 0


def test_a_dead_workers_trial_is_requeued_once_not_under_its_next_holder(tmp_path: Path) -> None:
    """A bug benchmarks.chaos found: two supervisors (workers' recover_lost, the local executor) that saw
    one dead worker's trial each requeued it; the second, without the claim's token, revoked the claim a
    live worker had taken meanwhile (an extra retry charged, its run wasted, trials lost sooner)."""
    study = _study(tmp_path)
    dead = _dead_worker()
    first = study.ask(dead)
    assert first is not None
    seen = study.trials([TrialStatus.RUNNING])  # two supervisors (workers' recover_lost) both read this
    assert study.worker_died(dead, "was killed", 5, seen) == [first.number]  # the first requeues it
    again = study.ask("other-host:1")  # another worker claims it: claim 2
    assert again is not None and again.number == first.number and again.attempt == 2
    study.worker_died(dead, "was killed", 5, seen)  # the second acts on what it read
    now = study.store.trial(study.id, first.number)
    assert (now.status, now.worker, now.attempt, now.retries) == (TrialStatus.RUNNING, "other-host:1", 2, 1)
