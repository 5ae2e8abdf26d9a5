"""Decisions are made outside the store's write lock, on a view brought up to date by deltas (issue 14)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from metaml import Fidelity, Float, Space, Study, TrialStatus
from metaml.core.records import Changes, Cursor
from metaml.core.view import StudyView
from metaml.optimizers.random_search import RandomSearch
from metaml.optimizers.registry import register, unregister
from metaml.store import Observation, Proposal, TrialRecord

SLOW_ASK_S = 1.0


class SlowRandom(RandomSearch):
    """Random search that thinks for a second per decision, as a GP fit does."""

    name = "slow-random"

    def propose(self, view: StudyView) -> Proposal | None:
        time.sleep(SLOW_ASK_S)
        return super().propose(view)


@pytest.fixture
def slow_optimizer() -> Iterator[str]:
    register("slow-random", lambda space, objectives, seed=0, **kw: SlowRandom(space, objectives, seed, **kw))
    try:
        yield "slow-random"
    finally:
        unregister("slow-random")


def test_a_slow_decision_holds_up_no_other_workers_write(tmp_path: Path, slow_optimizer: str) -> None:
    space = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 9)})
    study = Study.create("s", space, "loss", store=tmp_path / "s.db", optimizer=slow_optimizer)
    running = study.store.enqueue(study.id, Proposal({"x": 0.5}, 9))
    other = Study.load("s", tmp_path / "s.db")  # another worker, its own connection to the file
    other.store.ask(other.id, "w2", lambda changes: None)  # claims the queued trial
    latencies: list[float] = []
    deciding = threading.Thread(target=study.ask, args=("w1",))
    deciding.start()
    time.sleep(0.2)  # w1 is now inside its second-long decision
    for step in range(1, 6):
        began = time.perf_counter()
        other.store.add_observation(other.id, running.number, step, {"loss": 1.0 / step})
        other.store.heartbeat(other.id, running.number, "w2")
        latencies.append(time.perf_counter() - began)
        time.sleep(0.05)
    deciding.join()
    assert max(latencies) < SLOW_ASK_S / 4, latencies  # under the lock they would wait for the whole decision
    assert [t.number for t in study.trials()] == [0, 1]


def test_a_decision_overtaken_by_another_worker_is_made_again_on_the_new_picture(tmp_path: Path) -> None:
    space = Space({"x": Float(0.0, 1.0)})
    study = Study.create("s", space, "loss", store=tmp_path / "s.db", seed=4)
    other = Study.load("s", tmp_path / "s.db")
    real = study.optimizer.propose
    calls: list[int] = []

    def propose(view: StudyView) -> Proposal | None:
        calls.append(len(view.trials))
        if len(calls) == 1:
            other.ask("w2")  # another worker commits a trial while this one decides
        return real(view)

    study.optimizer.propose = propose  # type: ignore[method-assign]
    trial = study.ask("w1")
    assert trial is not None and trial.number == 1
    assert calls == [0, 1]  # the first decision was refused and made again on the history with trial 0
    numbers = sorted(t.number for t in study.trials())
    assert numbers == [0, 1] and {t.worker for t in study.trials()} == {"w1", "w2"}


def test_should_stop_reads_only_what_changed(tmp_path: Path) -> None:
    space = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 9)})
    study = Study.create("s", space, "loss", store=tmp_path / "s.db", optimizer={"name": "asha", "eta": 3})
    reads: list[Changes] = []
    real = study.store.snapshot

    def snapshot(study_id: int, since: Cursor | None = None) -> Changes:
        reads.append(changes := real(study_id, since))
        return changes

    study.store.snapshot = snapshot  # type: ignore[method-assign]
    for _ in range(12):
        trial = study.ask("w")
        assert trial is not None
        for step in range(1, int(trial.fidelity) + 1):
            trial.report(step, loss=trial.config["x"] / step)
            if trial.should_stop():
                break
        study.tell(trial, {"loss": trial.config["x"]})
    late = reads[-5:]  # after a dozen trials, a report's check still reads a handful of rows
    assert all(len(c.trials) <= 2 and len(c.observations) <= 2 for c in late), [(len(c.trials), len(c.observations)) for c in late]
    view = study.view()
    assert [t.number for t in view.trials] == [t.number for t in study.trials()]
    assert all(t.status is not TrialStatus.RUNNING for t in view.trials)


def test_a_view_applies_changes_by_trial_and_by_step() -> None:
    def rec(number: int, status: TrialStatus = TrialStatus.RUNNING) -> TrialRecord:
        return TrialRecord(study_id=1, number=number, config={}, fidelity=3.0, continue_from=None, status=status)

    view = StudyView().apply(Changes(Cursor(2, 2, 0), (rec(0), rec(1)), (Observation(0, 1.0, {"l": 1.0}, 0.0),
                                                                          Observation(0, 2.0, {"l": 0.5}, 0.0))))  # fmt: skip
    later = view.apply(Changes(Cursor(3, 3, 0), (rec(1, TrialStatus.COMPLETED),), (Observation(0, 1.0, {"l": 0.9}, 1.0),)))
    assert [(t.number, t.status) for t in later.trials] == [(0, TrialStatus.RUNNING), (1, TrialStatus.COMPLETED)]
    assert [(o.step, o.metrics["l"]) for o in later.curve(0)] == [(1.0, 0.9), (2.0, 0.5)]  # step 1 replaced, in order
    assert view.trial(1).status is TrialStatus.RUNNING  # type: ignore[union-attr]  # views are immutable
    assert later.version == 3 and later.others(1) == list(later.curve(0))


def test_a_run_that_trains_past_its_plan_is_cut_at_the_budget(tmp_path: Path) -> None:
    """Strict budgets: a run whose cost was not promised (it trains past its fidelity) stops once the study is at it."""
    space = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 4)})
    study = Study.create("s", space, "loss", store=tmp_path / "s.db", seed=1)

    def overtrains(config: dict, trial) -> dict:  # type: ignore[no-untyped-def]
        for step in range(1, 3 * int(trial.fidelity) + 1):  # ignores its fidelity
            trial.report(step, loss=config["x"] / step)
            if trial.should_stop():
                break
        return {"loss": config["x"]}

    study.optimize(overtrains, budget={"fte": 1.5})
    first = study.trials()[0]
    assert first.status is TrialStatus.PRUNED and "budget" in (study.store.events(study.id, ["stopped"])[0].message)
    assert first.end_step == 6  # cut at the first check past the budget: 1.5 FTE of 4 epochs
    assert study.cost_fte() == pytest.approx(1.5) and len(study.trials()) == 1
