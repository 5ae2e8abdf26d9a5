"""Local worker processes: no lost and no duplicated trial, whatever happens to a worker."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from metaml import Study, TrialStatus
from metaml.errors import MetamlError
from tests.execution import functions


def _study(url: str, name: str = "local") -> Study:
    return Study.create(name, functions.SPACE, ["loss"], store=url, seed=1)


def _assert_numbers_complete(study: Study, n: int) -> None:
    numbers = [t.number for t in study.trials()]
    assert numbers == list(range(n)), numbers


def test_four_workers_complete_forty_trials_without_loss_or_duplicate(store_url: str) -> None:
    study = _study(store_url)
    finished = study.optimize(functions.sleepy, budget=40, workers=4)
    _assert_numbers_complete(study, 40)
    trials = study.trials()
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    assert len({t.worker for t in trials}) == 4  # every worker took part
    assert sorted(r.number for r in finished) == list(range(40))


def test_a_worker_killed_mid_trial_loses_only_that_run_and_its_trial_is_retried(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METAML_TEST_SLEEP", "1.0")
    study = _study(store_url)
    killed: list[int] = []

    def killer() -> None:
        watcher = Study.load(study.name, store_url)
        deadline = time.time() + 60
        while time.time() < deadline:
            running = [t for t in watcher.trials([TrialStatus.RUNNING]) if t.number >= 2]
            if running:
                victim = running[0]
                os.kill(int((victim.worker or "").rsplit(":", 1)[1]), signal.SIGKILL)
                killed.append(victim.number)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    study.optimize(functions.sleepy, budget=8, workers=2)
    thread.join()
    assert killed, "no trial was running to kill"
    _assert_numbers_complete(study, 8)
    trials = study.trials()
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    victim = trials[killed[0]]
    assert victim.retries == 1
    events = study.store.events(study.id)
    assert any(e.kind == "worker_died" for e in events)
    # the reason names how the worker ended
    assert any(e.kind == "requeued" and e.trial_number == victim.number and "SIGKILL" in e.message for e in events)


def test_a_trial_that_hangs_past_its_timeout_is_killed_and_failed(sqlite_url: str) -> None:
    study = _study(sqlite_url)
    study.optimize(functions.hangs_on_trial_2, budget=5, workers=2, settings={"timeout": 4})
    _assert_numbers_complete(study, 5)
    by_number = {t.number: t for t in study.trials()}
    assert by_number[2].status is TrialStatus.FAILED
    assert "timed out" in (by_number[2].error or "")
    assert all(by_number[n].status is TrialStatus.COMPLETED for n in (0, 1, 3, 4))


def test_a_trial_over_the_memory_limit_fails_with_its_config(sqlite_url: str) -> None:
    study = _study(sqlite_url)
    study.optimize(functions.hungry_on_trial_1, budget=3, workers=1, settings={"memory_mb": 1500})
    by_number = {t.number: t for t in study.trials()}
    assert by_number[1].status is TrialStatus.FAILED
    assert "out of memory" in (by_number[1].error or "") and "'x'" in (by_number[1].error or "")
    assert by_number[0].status is by_number[2].status is TrialStatus.COMPLETED


def test_a_segfaulting_trial_cannot_take_the_study_down(sqlite_url: str) -> None:
    study = _study(sqlite_url)
    study.optimize(functions.segfaults_on_trial_1, budget=4, workers=2, settings={"retries": 1})
    by_number = {t.number: t for t in study.trials()}
    assert by_number[1].status is TrialStatus.LOST  # died twice: the retry limit is reached
    assert all(by_number[n].status is TrialStatus.COMPLETED for n in (0, 2, 3))


def test_a_function_that_cannot_be_sent_to_workers_is_refused(sqlite_url: str) -> None:
    study = _study(sqlite_url)
    with pytest.raises(MetamlError, match="define it at the top level"):
        study.optimize(lambda config, trial: {"loss": 0.0}, budget=2, workers=2)
