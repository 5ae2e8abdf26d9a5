"""The store contract's conformance suite: every study database backend must pass all of it.

A backend's test module subclasses :class:`StoreSuite` and gives it a ``store`` fixture (an
open store of the backend; it may hold other studies, since every test makes its own under a
unique name) and an ``age`` method (make a running trial's last heartbeat older, as a worker
gone silent leaves it; this is the one thing the suite cannot do through the ``Store``
protocol, which it otherwise uses alone); pytest then runs every test below on it. Two more
fixtures may be overridden: ``opener``, a picklable callable that opens another handle on the
same database as another process would (by default ``type(store)(store.url)``), and
``new_opener``, the same for a location where no store was ever made (the test of processes
making one at once; by default None, which leaves that part out). metaml's own backends run
it in ``tests/store/test_conformance.py``, on SQLite and PostgreSQL::

    class TestMyStore(StoreSuite):
        @pytest.fixture
        def store(self, tmp_path):
            s = MyStore(f"mine:///{tmp_path}/db")
            yield s
            s.close()

        def age(self, store, study_id, number, seconds):
            ...  # set the trial's stored heartbeat back by ``seconds``
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import queue
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from metaml.core.records import Changes, ImportedTrial, Proposal, TrialRecord, TrialStatus
from metaml.errors import StoreError, StudyNotFoundError
from metaml.store.base import Store

SPACE = {"x": {"type": "float", "lower": 0.0, "upper": 1.0}}
OBJECTIVES = [{"name": "loss", "goal": "min"}]

#: Opens a handle on a store (called in other processes too, so it must pickle).
Opener = Callable[[], Store]


def _name(prefix: str = "study") -> str:
    # unique, so that the suite also runs against a shared database
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _study(store: Store, name: str | None = None, **kw: Any) -> int:
    args: dict[str, Any] = {
        "space": SPACE, "objectives": OBJECTIVES, "optimizer": "random", "optimizer_settings": {}, "seed": 0, "info": {}
    }
    args.update(kw)
    return store.create_study(name or _name(), **args).id


def _propose(config: dict[str, Any] | None = None, **kw: Any) -> Callable[[Changes], Proposal]:
    return lambda changes: Proposal(config if config is not None else {"x": len(changes.trials) / 100}, **kw)


def _never(changes: Changes) -> Proposal:
    raise AssertionError("decide must not be called while a trial is pending")


def _got(record: TrialRecord | None) -> TrialRecord:
    assert record is not None, "expected a trial, got None"
    return record


class StoreSuite:
    """The store contract's tests; subclass it with a ``store`` fixture and an ``age`` method (see the module)."""

    def age(self, store: Store, study_id: int, number: int, seconds: float) -> None:
        """Make trial ``number``'s last heartbeat ``seconds`` older than it is (a worker gone silent)."""
        raise NotImplementedError(f"{type(self).__name__} must define age(store, study_id, number, seconds)")

    @pytest.fixture
    def opener(self, store: Store) -> Opener:
        """Opens another handle on ``store``'s database, as another process would."""
        backend: Any = type(store)
        opener: Opener = functools.partial(backend, store.url)
        return opener

    @pytest.fixture
    def new_opener(self) -> Opener | None:
        """Opens a store where none was ever made, the same one at every call; None: not tested."""
        return None

    def test_the_store_fulfils_the_contract(self, store: Store) -> None:
        assert isinstance(store, Store)

    # ---------------------------------------------------------------------- studies

    def test_create_get_and_list_studies(self, store: Store, opener: Opener) -> None:
        before = store.list_studies()
        a, b = _name("a"), _name("b")
        t0 = time.time()
        info = {"artifacts": "/tmp/x", "score": np.float64(0.5)}
        rec = store.create_study(a, SPACE, OBJECTIVES, "random", {"sampler": "prior"}, 2**32 - 1, info)
        assert rec.name == a and rec.id > 0
        assert rec.space == SPACE and rec.objectives == OBJECTIVES
        assert rec.optimizer == "random" and rec.optimizer_settings == {"sampler": "prior"}
        assert rec.seed == 2**32 - 1  # a numpy seed fits (PostgreSQL's INTEGER would not)
        assert rec.info == {"artifacts": "/tmp/x", "score": 0.5}
        assert t0 - 1 <= rec.created_at <= time.time() + 1
        assert store.get_study(a) == rec
        rec_b = store.create_study(b, {}, [{"name": "acc", "goal": "max", "limit": 0.9}], "random", {}, -7, {})
        assert rec_b.id != rec.id and rec_b.seed == -7
        assert store.list_studies() == before + [a, b]  # in creation order
        # a reopened store sees the same
        again = opener()
        try:
            assert again.get_study(b) == rec_b and again.list_studies() == before + [a, b]
        finally:
            again.close()

    def test_a_duplicate_study_name_is_refused_and_changes_nothing(self, store: Store) -> None:
        name = _name()
        first = store.create_study(name, SPACE, OBJECTIVES, "random", {}, 0, {})
        studies = store.list_studies()
        with pytest.raises(StoreError, match=f"{name}.*already exists"):
            store.create_study(name, {"other": {}}, OBJECTIVES, "random", {}, 1, {})
        assert store.list_studies() == studies
        assert store.get_study(name) == first

    def test_an_imported_study_holds_finished_trials_with_provenance_curves_and_no_cost(self, store: Store) -> None:
        name = _name("imported")
        source = {"source": "optuna", "study": "s"}
        trials = [
            ImportedTrial(0, {"x": 0.2}, TrialStatus.COMPLETED, {**source, "number": 0}, metrics={"loss": 0.5},
                          curve=((1.0, {"loss": 0.9}), (2.0, {"loss": 0.5})), started_at=10.0, ended_at=20.0),
            ImportedTrial(3, {"x": 0.7}, TrialStatus.PRUNED, {**source, "number": 3}, metrics={"loss": 0.8},
                          curve=((1.0, {"loss": 0.8}),)),
            ImportedTrial(4, {"x": 0.9}, TrialStatus.FAILED, {**source, "number": 4}, error="it raised"),
        ]  # fmt: skip
        rec = store.import_study(name, SPACE, OBJECTIVES, "random", {}, 0, {"imported": source}, trials)
        assert store.get_study(name) == rec and rec.info == {"imported": source}
        got = store.trials(rec.id)
        assert [(t.number, t.status, t.config, t.metrics) for t in got] == [
            (0, TrialStatus.COMPLETED, {"x": 0.2}, {"loss": 0.5}), (3, TrialStatus.PRUNED, {"x": 0.7}, {"loss": 0.8}),
            (4, TrialStatus.FAILED, {"x": 0.9}, None),
        ]  # fmt: skip
        assert [t.imported for t in got] == [{**source, "number": n} for n in (0, 3, 4)]
        assert all(t.cost_fte == 0.0 and t.worker is None and t.start_step is None for t in got)
        assert [t.end_step for t in got] == [2.0, 1.0, None] and got[2].error == "it raised"
        assert (got[0].started_at, got[0].ended_at) == (10.0, 20.0)
        assert [(o.trial_number, o.step, o.metrics) for o in store.observations(rec.id)] == [
            (0, 1.0, {"loss": 0.9}), (0, 2.0, {"loss": 0.5}), (3, 1.0, {"loss": 0.8}),
        ]  # fmt: skip
        assert [e.kind for e in store.events(rec.id)] == ["imported"]
        assert store.snapshot(rec.id).trials == tuple(got)  # a reader from the start sees every imported trial
        # a trial run here after the import gets the next number and is not marked imported
        ran = _got(store.ask(rec.id, "w", _propose()))
        assert ran.number == 5 and ran.imported is None

    def test_an_import_is_all_or_nothing(self, store: Store) -> None:
        name = _name("imported")
        first = store.create_study(name, SPACE, OBJECTIVES, "random", {}, 0, {})
        one = ImportedTrial(0, {"x": 0.2}, TrialStatus.COMPLETED, {"source": "csv"}, metrics={"loss": 0.5})
        with pytest.raises(StoreError, match="already exists"):
            store.import_study(name, SPACE, OBJECTIVES, "random", {}, 0, {}, [one])
        assert store.get_study(name) == first and store.trials(first.id) == []
        studies = store.list_studies()
        with pytest.raises(StoreError, match="distinct numbers"):
            store.import_study(_name("imported"), SPACE, OBJECTIVES, "random", {}, 0, {}, [one, one])
        running = ImportedTrial(1, {"x": 0.3}, TrialStatus.RUNNING, {"source": "csv"})
        with pytest.raises(StoreError, match="finished"):
            store.import_study(_name("imported"), SPACE, OBJECTIVES, "random", {}, 0, {}, [one, running])
        assert store.list_studies() == studies

    def test_an_unknown_study_lists_the_known_ones(self, store: Store) -> None:
        if not store.list_studies():
            with pytest.raises(StudyNotFoundError, match="holds no study yet"):
                store.get_study("nope")
        a, b = _name("alpha"), _name("beta")
        _study(store, a)
        _study(store, b)
        with pytest.raises(StudyNotFoundError) as info:
            store.get_study("nope")
        message = str(info.value)
        assert "'nope'" in message and a in message and b in message
        assert isinstance(info.value, StoreError)

    @pytest.mark.parametrize("name", ["", "x" * 257, None, 5])
    def test_a_bad_study_name_is_a_store_error(self, store: Store, name: Any) -> None:
        before = store.list_studies()
        with pytest.raises(StoreError, match="study name"):
            store.create_study(name, SPACE, OBJECTIVES, "random", {}, 0, {})
        assert store.list_studies() == before

    def test_long_and_unicode_names_round_trip(self, store: Store) -> None:
        for name in ("é-😀-" + uuid.uuid4().hex, "n" * 200 + uuid.uuid4().hex[:56]):
            _study(store, name)
            assert store.get_study(name).name == name

    def test_update_study_info_merges(self, store: Store) -> None:
        name = _name()
        sid = _study(store, name, info={"a": 1, "b": 2})
        store.update_study_info(sid, {"b": 3, "c": np.float32(0.5), "d": (1, 2)})
        assert store.get_study(name).info == {"a": 1, "b": 3, "c": 0.5, "d": [1, 2]}
        with pytest.raises(StoreError):
            store.update_study_info(sid + 10_000, {"x": 1})

    # ----------------------------------------------------------------------- trials

    def test_ask_numbers_trials_in_order_and_claims_them(self, store: Store) -> None:
        sid = _study(store)
        seen: list[list[int]] = []

        def decide(changes: Changes) -> Proposal:
            history = changes.trials
            seen.append([t.number for t in history])
            n = len(history)
            return Proposal({"x": 0.1 * n}, fidelity=3, reason=f"draw {n}", info={"k": n})

        t0 = time.time()
        records = [_got(store.ask(sid, "w1", decide)) for _ in range(5)]
        assert [r.number for r in records] == [0, 1, 2, 3, 4]
        assert seen == [[], [0], [0, 1], [0, 1, 2], [0, 1, 2, 3]]  # the decider sees the whole history
        for r in records:
            assert r.status is TrialStatus.RUNNING and r.worker == "w1"
            assert r.fidelity == 3.0 and r.continue_from is None and r.retries == 0
            assert r.config == {"x": pytest.approx(0.1 * r.number)}
            assert r.info == {"k": r.number, "reason": f"draw {r.number}", "attempt": 1}  # the claim token
            assert r.started_at is not None and t0 - 1 <= r.started_at <= time.time() + 1
            assert r.heartbeat == r.started_at
            assert r.ended_at is None and r.metrics is None
            assert store.trial(sid, r.number) == r
        assert store.trials(sid) == records
        proposals = store.events(sid, ["proposal"])
        assert [(e.trial_number, e.message) for e in proposals] == [(i, f"draw {i}") for i in range(5)]
        assert proposals[2].data["config"] == {"x": pytest.approx(0.2)} and proposals[2].data["fidelity"] == 3

    def test_ask_with_nothing_to_propose_creates_nothing(self, store: Store) -> None:
        sid = _study(store)
        assert store.ask(sid, "w", lambda changes: None) is None
        assert store.trials(sid) == []

    def test_a_decider_that_raises_leaves_no_trace(self, store: Store) -> None:
        sid = _study(store)
        store.ask(sid, "w", _propose())

        def boom(changes: Changes) -> Proposal:
            raise RuntimeError("optimizer crashed")

        with pytest.raises(RuntimeError, match="optimizer crashed"):
            store.ask(sid, "w", boom)
        assert [t.number for t in store.trials(sid)] == [0]
        assert len(store.events(sid, ["proposal"])) == 1
        assert _got(store.ask(sid, "w", _propose())).number == 1

    def test_continue_from_and_fidelity_round_trip(self, store: Store) -> None:
        sid = _study(store)
        store.ask(sid, "w", _propose(fidelity=1))
        rec = _got(store.ask(sid, "w", _propose(fidelity=np.float64(2.5), continue_from=0)))
        assert rec.fidelity == 2.5 and rec.continue_from == 0
        assert store.trial(sid, 1).continue_from == 0

    def test_enqueued_trials_are_claimed_first_in_order(self, store: Store) -> None:
        sid = _study(store)
        store.ask(sid, "w", _propose())  # trial 0, running
        q1 = store.enqueue(sid, Proposal({"x": 0.5}, fidelity=9, reason="the default config"))
        q2 = store.enqueue(sid, Proposal({"x": 0.25}))
        assert (q1.number, q2.number) == (1, 2)
        assert q1.status is TrialStatus.PENDING and q1.worker is None and q1.started_at is None and q1.heartbeat is None
        assert [e.trial_number for e in store.events(sid, ["enqueued"])] == [1, 2]
        assert store.events(sid, ["enqueued"])[0].message == "the default config"
        got1 = _got(store.ask(sid, "w2", _never))
        got2 = _got(store.ask(sid, "w3", _never))
        assert (got1.number, got1.config, got1.fidelity, got1.worker) == (1, {"x": 0.5}, 9.0, "w2")
        assert (got2.number, got2.worker, got2.status) == (2, "w3", TrialStatus.RUNNING)
        assert got1.started_at is not None and got1.heartbeat is not None
        assert _got(store.ask(sid, "w", _propose())).number == 3
        assert store.enqueue(sid, Proposal({"x": 0.0})).number == 4

    def test_finish_keeps_details_with_the_metrics(self, store: Store) -> None:
        sid = _study(store)
        claimed = _got(store.ask(sid, "w", _propose()))
        details = {"fairness": {"dp": {"groups": [{"group": "a", "n": 3, "rate": 0.5}], "pair": None}}}
        assert store.finish(sid, 0, TrialStatus.COMPLETED, metrics={"loss": 0.5}, info={"details": details})
        done = store.trial(sid, 0)
        assert done.details == details and done.metrics == {"loss": 0.5}
        assert {k: v for k, v in done.info.items() if k != "details"} == claimed.info  # merged, nothing lost

    def test_an_intervention_is_an_event_and_voids_decisions_made_before_it(self, store: Store) -> None:
        sid = _study(store)
        _got(store.ask(sid, "w", _propose()))
        before = store.snapshot(sid)
        store.intervene(sid, "pinned x=0.5 by ann", {"action": "pin", "target": "x", "value": 0.5, "author": "ann"})
        [event] = store.events(sid, ["intervention"])
        assert (event.kind, event.message, event.data["value"], event.data["author"]) == (
            "intervention", "pinned x=0.5 by ann", 0.5, "ann")
        after = store.snapshot(sid, before.cursor)
        assert [e.id for e in after.events] == [event.id] and after.cursor.version > before.cursor.version
        # a proposal decided on the picture without the pin is not committed
        assert store.commit_proposal(sid, "w", Proposal({"x": 0.1}), before.cursor.version) is None
        assert [t.number for t in store.trials(sid)] == [0]

    def test_finish_only_from_running(self, store: Store) -> None:
        sid = _study(store)
        _got(store.ask(sid, "w", _propose()))
        ok = store.finish(sid, 0, TrialStatus.COMPLETED, metrics={"loss": 0.5}, start_step=0, end_step=3, cost_fte=0.25)
        assert ok is True
        done = store.trial(sid, 0)
        assert done.status is TrialStatus.COMPLETED and done.metrics == {"loss": 0.5}
        assert (done.start_step, done.end_step, done.cost_fte) == (0.0, 3.0, 0.25)
        assert done.ended_at is not None and done.duration is not None and done.duration >= 0
        assert done.worker == "w"
        # a second finish changes nothing
        assert store.finish(sid, 0, TrialStatus.FAILED, error="late", cost_fte=9.0) is False
        assert store.trial(sid, 0) == done
        # nor can a pending trial be finished
        store.enqueue(sid, Proposal({"x": 0.1}))
        assert store.finish(sid, 1, TrialStatus.COMPLETED, metrics={"loss": 1.0}) is False
        assert store.trial(sid, 1).status is TrialStatus.PENDING
        with pytest.raises(StoreError, match="final status"):
            store.finish(sid, 1, TrialStatus.RUNNING)
        with pytest.raises(StoreError, match="trial 99"):
            store.finish(sid, 99, TrialStatus.COMPLETED)
        with pytest.raises(StoreError, match="trial 99"):
            store.trial(sid, 99)
        assert store.events(sid, ["completed"]) == []  # a success is in the trial record, not the log

    @pytest.mark.parametrize("status", [TrialStatus.FAILED, TrialStatus.PRUNED, TrialStatus.LOST])
    def test_an_unsuccessful_finish_is_logged_with_its_reason(self, store: Store, status: TrialStatus) -> None:
        sid = _study(store)
        store.ask(sid, "w", _propose())
        tb = "Traceback (most recent call last):\n  ...\nValueError: bad"
        assert store.finish(sid, 0, status, error="ValueError: bad", traceback=tb, cost_fte=0.5)
        rec = store.trial(sid, 0)
        assert rec.status is status and rec.error == "ValueError: bad" and rec.traceback == tb
        events = store.events(sid, [status.value])
        assert len(events) == 1 and events[0].message == "ValueError: bad" and events[0].trial_number == 0
        assert events[0].data == {"cost_fte": 0.5}

    def test_heartbeat_only_for_the_owner_of_a_running_trial(self, store: Store) -> None:
        sid = _study(store)
        rec = _got(store.ask(sid, "w1", _propose()))
        assert rec.heartbeat is not None
        self.age(store, sid, 0, 100)
        assert store.heartbeat(sid, 0, "w1") is True
        refreshed = store.trial(sid, 0).heartbeat
        assert refreshed is not None and refreshed >= rec.heartbeat
        assert store.heartbeat(sid, 0, "someone-else") is False
        store.finish(sid, 0, TrialStatus.COMPLETED, metrics={"loss": 1.0})
        assert store.heartbeat(sid, 0, "w1") is False

    def test_requeue_returns_a_running_trial_to_the_queue(self, store: Store) -> None:
        sid = _study(store)
        store.ask(sid, "w1", _propose({"x": 0.75}))
        assert store.requeue(sid, 0, "interrupted", count_retry=False) is True
        rec = store.trial(sid, 0)
        assert rec.status is TrialStatus.PENDING and rec.retries == 0
        assert rec.worker is None and rec.heartbeat is None and rec.started_at is None
        assert store.requeue(sid, 0, "again", count_retry=True) is False  # not running any more
        again = _got(store.ask(sid, "w2", _never))
        assert (again.number, again.config, again.worker) == (0, {"x": 0.75}, "w2")
        assert store.requeue(sid, 0, "worker died", count_retry=True) is True
        assert store.trial(sid, 0).retries == 1
        events = store.events(sid, ["requeued"])
        assert [(e.message, e.data["retries"]) for e in events] == [("interrupted", 0), ("worker died", 1)]
        store.ask(sid, "w3", _never)
        store.finish(sid, 0, TrialStatus.COMPLETED, metrics={"loss": 0.0})
        assert store.requeue(sid, 0, "too late", count_retry=True) is False
        assert store.trial(sid, 0).status is TrialStatus.COMPLETED

    def test_every_run_of_a_trial_is_charged_for_the_steps_it_reported(self, store: Store) -> None:
        """Interrupted, lost and finished runs each pay for their steps; nothing a run trained is free."""
        sid = _study(store)
        store.ask(sid, "w1", _propose(fidelity=27))
        for step in range(1, 8):
            store.add_observation(sid, 0, step, {"loss": 1.0 / step})
        assert store.requeue(sid, 0, "interrupted", count_retry=False, fte_per_step=1 / 27) is True
        assert math.isclose(store.trial(sid, 0).cost_fte, 7 / 27)  # epochs 1-7, charged though the run was cut
        store.ask(sid, "w2", _never)
        assert store.set_start_step(sid, 0, "w2", 5.0) is True  # restored an older checkpoint: 6 and 7 trained again
        assert store.set_start_step(sid, 0, "someone-else", 9.0) is False
        for step in range(6, 13):
            store.add_observation(sid, 0, step, {"loss": 1.0 / step})
        self.age(store, sid, 0, 1000)
        assert store.recover_stale(sid, stale_after=500, max_retries=2, fte_per_step=1 / 27) == [0]
        assert math.isclose(store.trial(sid, 0).cost_fte, (7 + 7) / 27)
        lost = store.events(sid, ["lost"])
        assert math.isclose(lost[-1].data["cost_fte"], 7 / 27)
        store.ask(sid, "w3", _never)
        assert store.finish(
            sid, 0, TrialStatus.COMPLETED, metrics={"loss": 0.1}, start_step=12, end_step=27, cost_fte=15 / 27
        )
        assert math.isclose(store.trial(sid, 0).cost_fte, (7 + 7 + 15) / 27)  # 29 epochs trained for a 27-epoch run

    def test_a_run_killed_at_its_timeout_is_charged_for_what_it_reported(self, store: Store) -> None:
        sid = _study(store)
        store.ask(sid, "w1", _propose(fidelity=10))
        for step in (1, 2, 3):
            store.add_observation(sid, 0, step, {"loss": 1.0})
        assert store.finish(sid, 0, TrialStatus.FAILED, error="timed out", fte_per_step=0.1) is True
        rec = store.trial(sid, 0)
        assert math.isclose(rec.cost_fte, 0.3) and (rec.start_step, rec.end_step) == (0.0, 3.0)

    def test_a_worker_that_lost_its_claim_can_write_nothing(self, store: Store) -> None:
        """Fencing: every write carries the claim token (attempt); only the current holder's count."""
        sid = _study(store)
        first = _got(store.ask(sid, "w1", _propose(fidelity=9)))
        assert first.attempt == 1
        assert store.add_observation(sid, 0, 1, {"loss": 0.9}, attempt=1) is True
        self.age(store, sid, 0, 1000)
        assert store.recover_stale(sid, stale_after=500, max_retries=2) == [0]
        second = _got(store.ask(sid, "w2", _never))
        assert second.attempt == 2
        # w1 wakes up: it learns it lost the claim, and nothing it sends is written
        assert store.heartbeat(sid, 0, "w1", 1) is False
        assert store.holds(sid, 0, 1) is False and store.holds(sid, 0, 2) is True
        assert store.add_observation(sid, 0, 2, {"loss": 0.8}, attempt=1) is False
        assert store.set_start_step(sid, 0, None, 5.0, attempt=1) is False
        assert store.requeue(sid, 0, "late", count_retry=False, attempt=1) is False
        assert store.finish(sid, 0, TrialStatus.COMPLETED, metrics={"loss": 0.0}, attempt=1) is False
        assert store.trial(sid, 0).status is TrialStatus.RUNNING and store.trial(sid, 0).worker == "w2"
        # w2, the holder, writes as usual
        assert store.heartbeat(sid, 0, "w2", 2) is True
        assert store.add_observation(sid, 0, 2, {"loss": 0.7}, attempt=2) is True
        assert store.finish(sid, 0, TrialStatus.COMPLETED, metrics={"loss": 0.5}, attempt=2) is True
        assert store.trial(sid, 0).metrics == {"loss": 0.5}
        points = [(o.step, o.metrics) for o in store.observations(sid, 0)]
        assert points == [(1.0, {"loss": 0.9}), (2.0, {"loss": 0.7})]

    def test_the_curve_is_keyed_by_step_so_a_retry_never_duplicates_a_point(self, store: Store) -> None:
        sid = _study(store)
        store.ask(sid, "w1", _propose(fidelity=9))
        for step in (1, 2, 3):
            store.add_observation(sid, 0, step, {"loss": 1.0 / step})
        store.requeue(sid, 0, "killed between report and checkpoint", count_retry=True)
        store.ask(sid, "w2", _never)
        store.add_observation(sid, 0, 3, {"loss": 0.3, "acc": 0.9})  # the retry trains epoch 3 again
        store.add_observation(sid, 0, 4, {"loss": 0.25})
        points = [(o.step, o.metrics) for o in store.observations(sid, 0)]
        assert points == [
            (1.0, {"loss": 1.0}), (2.0, {"loss": 0.5}), (3.0, {"loss": 0.3, "acc": 0.9}), (4.0, {"loss": 0.25})
        ]

    def test_a_snapshot_since_a_cursor_reads_only_what_changed(self, store: Store) -> None:
        sid = _study(store)
        for _ in range(3):
            store.ask(sid, "w", _propose(fidelity=3))
        full = store.snapshot(sid)
        assert [t.number for t in full.trials] == [0, 1, 2] and full.cursor.version >= 3
        assert [e.kind for e in full.events] == ["proposal"] * 3
        assert store.snapshot(sid, full.cursor).trials == ()  # nothing changed: nothing read
        store.add_observation(sid, 1, 1, {"loss": 0.5})
        store.heartbeat(sid, 2, "w")  # a heartbeat is not a change of state
        delta = store.snapshot(sid, full.cursor)
        assert delta.trials == () and [(o.trial_number, o.step) for o in delta.observations] == [(1, 1.0)]
        assert delta.cursor.version == full.cursor.version
        store.finish(sid, 1, TrialStatus.COMPLETED, metrics={"loss": 0.5})
        after = store.snapshot(sid, delta.cursor)
        assert [(t.number, t.status) for t in after.trials] == [(1, TrialStatus.COMPLETED)]
        assert after.cursor.version > delta.cursor.version and after.observations == ()

    def test_a_decision_made_on_an_old_version_is_not_committed(self, store: Store) -> None:
        sid = _study(store)
        seen = store.snapshot(sid)
        first = _got(store.commit_proposal(sid, "w1", Proposal({"x": 0.1}), seen.cursor.version))
        assert first.number == 0 and first.status is TrialStatus.RUNNING and first.attempt == 1
        # w2 decided on the same picture: its decision is refused and nothing is written
        assert store.commit_proposal(sid, "w2", Proposal({"x": 0.2}), seen.cursor.version) is None
        assert [t.number for t in store.trials(sid)] == [0]
        fresh = store.snapshot(sid, seen.cursor)
        second = _got(store.commit_proposal(sid, "w2", Proposal({"x": 0.2}), fresh.cursor.version))
        assert second.number == 1
        assert [e.message for e in store.events(sid, ["proposal"])] == ["proposed", "proposed"]

    def test_claim_pending_takes_the_oldest_queued_trial_or_nothing(self, store: Store) -> None:
        sid = _study(store)
        assert store.claim_pending(sid, "w") is None
        store.enqueue(sid, Proposal({"x": 0.3}))
        store.enqueue(sid, Proposal({"x": 0.4}))
        before = store.snapshot(sid).cursor.version
        got = _got(store.claim_pending(sid, "w"))
        assert (got.number, got.worker, got.status) == (0, "w", TrialStatus.RUNNING)
        assert store.snapshot(sid).cursor.version > before  # a claim is a change of state

    def test_recover_stale_leaves_fresh_trials_alone(self, store: Store) -> None:
        sid = _study(store)
        store.ask(sid, "w", _propose())
        store.ask(sid, "w", _propose())
        self.age(store, sid, 1, 1000)
        assert store.recover_stale(sid, stale_after=500, max_retries=2) == [1]
        assert store.trial(sid, 0).status is TrialStatus.RUNNING
        assert store.trial(sid, 1).status is TrialStatus.PENDING

    def test_recover_stale_counts_retries_then_marks_lost(self, store: Store) -> None:
        sid = _study(store)
        store.ask(sid, "w1", _propose({"x": 0.5}))
        store.enqueue(sid, Proposal({"x": 0.1}))  # pending trials are never stale
        store.ask(sid, "w1", _propose())  # claims trial 1 (the pending one)
        store.ask(sid, "w1", _propose())  # trial 2
        store.finish(sid, 2, TrialStatus.COMPLETED, metrics={"loss": 1.0})  # finished trials are never stale
        store.enqueue(sid, Proposal({"x": 0.2}))  # trial 3, pending
        time.sleep(0.01)
        for retry in (1, 2):
            touched = store.recover_stale(sid, stale_after=0, max_retries=2)
            assert sorted(touched) == [0, 1]
            for n in (0, 1):
                rec = store.trial(sid, n)
                assert rec.status is TrialStatus.PENDING and rec.retries == retry
                assert rec.worker is None and rec.heartbeat is None and rec.ended_at is None
            assert store.trial(sid, 2).status is TrialStatus.COMPLETED
            assert store.trial(sid, 3).status is TrialStatus.PENDING and store.trial(sid, 3).retries == 0
            # the lost trials are claimed again, the oldest first
            assert [_got(store.ask(sid, f"w{retry + 1}", _never)).number for _ in range(2)] == [0, 1]
            time.sleep(0.01)
        touched = store.recover_stale(sid, stale_after=0, max_retries=2)
        assert sorted(touched) == [0, 1]
        for n in (0, 1):
            rec = store.trial(sid, n)
            assert rec.status is TrialStatus.LOST and rec.retries == 2
            assert rec.ended_at is not None and "retry limit 2" in (rec.error or "")
        assert store.recover_stale(sid, stale_after=0, max_retries=2) == []
        lost = store.events(sid, ["lost"])
        assert Counter(e.trial_number for e in lost) == {0: 3, 1: 3}
        first = next(e for e in lost if e.trial_number == 0)
        assert "retry 1 of 2" in first.message and first.data["worker"] == "w1"
        last = [e for e in lost if e.trial_number == 0][-1]
        assert "retry limit 2" in last.message and last.data["worker"] == "w3"

    def test_recover_stale_with_no_retries_marks_lost_at_once(self, store: Store) -> None:
        sid = _study(store)
        store.ask(sid, "w", _propose())
        self.age(store, sid, 0, 10)
        assert store.recover_stale(sid, stale_after=5, max_retries=0) == [0]
        assert store.trial(sid, 0).status is TrialStatus.LOST

    def test_a_stale_trial_finished_late_is_not_overwritten(self, store: Store) -> None:
        sid = _study(store)
        store.ask(sid, "slow", _propose())
        self.age(store, sid, 0, 100)
        store.recover_stale(sid, stale_after=10, max_retries=1)
        store.ask(sid, "fast", _never)
        assert store.finish(sid, 0, TrialStatus.COMPLETED, metrics={"loss": 0.1}) is True
        # the slow worker comes back: its heartbeat and its result are refused
        assert store.heartbeat(sid, 0, "slow") is False
        assert store.finish(sid, 0, TrialStatus.COMPLETED, metrics={"loss": 0.9}) is False
        assert store.trial(sid, 0).metrics == {"loss": 0.1}

    def test_trials_filter_by_status_in_number_order(self, store: Store) -> None:
        sid = _study(store)
        for _ in range(4):
            store.ask(sid, "w", _propose())
        store.finish(sid, 2, TrialStatus.COMPLETED, metrics={"loss": 1.0})
        store.finish(sid, 0, TrialStatus.FAILED, error="x")
        store.enqueue(sid, Proposal({"x": 0.3}))
        assert [t.number for t in store.trials(sid)] == [0, 1, 2, 3, 4]
        assert [t.number for t in store.trials(sid, [TrialStatus.RUNNING])] == [1, 3]
        assert [t.number for t in store.trials(sid, [TrialStatus.COMPLETED, TrialStatus.FAILED])] == [0, 2]
        assert [t.number for t in store.trials(sid, [TrialStatus.PENDING])] == [4]
        assert store.trials(sid, []) == []

    def test_studies_are_independent(self, store: Store) -> None:
        a, b = _study(store), _study(store)
        for _ in range(3):
            store.ask(a, "w", _propose())
        store.enqueue(a, Proposal({"x": 0.9}))
        assert _got(store.ask(b, "w", _propose())).number == 0
        assert [t.number for t in store.trials(b)] == [0]
        store.add_observation(a, 0, 1, {"loss": 1.0})
        store.add_event(a, "note", "for a")
        assert store.observations(b) == [] and store.events(b, ["note"]) == []
        # recovering b, even with every heartbeat counted stale, touches only b's trial
        assert store.recover_stale(b, stale_after=-1e9, max_retries=5) == [0]
        assert [t.status for t in store.trials(a)] == [TrialStatus.RUNNING] * 3 + [TrialStatus.PENDING]

    # ------------------------------------------------------- curves and the audit log

    def test_observations_round_trip_in_order(self, store: Store) -> None:
        sid = _study(store)
        store.ask(sid, "w", _propose())
        store.ask(sid, "w", _propose())
        points = [(0, 1, 0.9), (1, 1, 0.8), (0, 2, 0.7), (0, 3, 0.6), (1, 2, 0.5), (0, 2.5, 0.4)]
        for number, step, loss in points:
            store.add_observation(sid, number, step, {"loss": loss, "lr": np.float32(0.5)})
        everything = store.observations(sid)
        assert [(o.trial_number, o.step, o.metrics["loss"]) for o in everything] == [
            (n, float(s), pytest.approx(v)) for n, s, v in points
        ]
        zero = store.observations(sid, 0)
        assert [o.step for o in zero] == [1.0, 2.0, 3.0, 2.5]  # in the order reported, not sorted
        assert all(type(o.step) is float and o.metrics["lr"] == 0.5 for o in zero)
        times = [o.time for o in everything]
        assert times == sorted(times)
        assert store.observations(sid, 5) == []

    def test_events_round_trip_in_order(self, store: Store) -> None:
        sid = _study(store)
        store.add_event(sid, "created", "hello")
        store.add_event(sid, "promotion", "0 goes to rung 1", trial_number=0, data={"rung": 1, "loss": np.float64(0.3)})
        store.add_event(sid, "decision", "stop", trial_number=None, data={"why": ("slow", 2)})
        store.add_event(sid, "promotion", "1 goes to rung 1", trial_number=1)
        events = store.events(sid)
        assert [e.kind for e in events] == ["created", "promotion", "decision", "promotion"]
        assert [e.id for e in events] == sorted(e.id for e in events) and len({e.id for e in events}) == 4
        assert events[0].trial_number is None and events[0].data == {}
        assert events[1].data == {"rung": 1, "loss": 0.3} and events[1].trial_number == 0
        assert events[2].data == {"why": ["slow", 2]}
        assert [e.message for e in store.events(sid, ["promotion"])] == ["0 goes to rung 1", "1 goes to rung 1"]
        assert [e.kind for e in store.events(sid, ["decision", "created"])] == ["created", "decision"]
        assert store.events(sid, ["none-such"]) == []

    def test_json_unsafe_values_are_stored_cleanly(self, store: Store) -> None:
        name = _name()
        sid = _study(store, name, info={"nan": float("nan")}, optimizer_settings={"eta": np.int64(3)})
        config = {
            "x": np.float64(0.5), "n": np.int64(7), "f32": np.float32(0.25), "flag": np.bool_(True),
            "pair": (1, 2), "nested": {"t": (np.float32(1.5), "a"), 3: "int key"}, "bad": float("nan"),
            "inf": float("inf"), "arr": np.array([1.0, 2.0]), "none": None,
        }
        fidelity: Any = np.int64(3)
        rec = _got(store.ask(sid, "w", lambda h: Proposal(config, fidelity=fidelity, info={"score": np.float64(np.nan)})))
        stored = store.trial(sid, 0).config
        assert stored == {
            "x": 0.5, "n": 7, "f32": 0.25, "flag": True, "pair": [1, 2], "nested": {"t": [1.5, "a"], "3": "int key"},
            "bad": None, "inf": None, "arr": "[1. 2.]", "none": None,
        }
        assert type(stored["n"]) is int and type(stored["x"]) is float and type(stored["flag"]) is bool
        assert rec.config == stored and rec.fidelity == 3.0
        assert rec.info == {"score": None, "reason": "", "attempt": 1}
        store.finish(sid, 0, TrialStatus.COMPLETED, metrics={"loss": np.float32(0.5), "nan": float("nan"), "t": (1, 2)})
        assert store.trial(sid, 0).metrics == {"loss": 0.5, "nan": None, "t": [1, 2]}
        study = store.get_study(name)
        assert study.info == {"nan": None} and study.optimizer_settings == {"eta": 3}
        # non-finite numbers never reach the database as NaN (PostgreSQL's JSON refuses them)
        assert not any(isinstance(v, float) and not math.isfinite(v) for v in stored.values())

    def test_reopening_keeps_everything(self, opener: Opener) -> None:
        first = opener()
        sid = _study(first)
        first.ask(sid, "w", _propose())
        first.close()
        second = opener()
        try:
            assert [t.number for t in second.trials(sid)] == [0]
        finally:
            second.close()

    # ---------------------------------------------------------------------- atomicity
    # Workers run in fresh (spawned) processes, like independent machines sharing the store.

    def test_concurrent_workers_never_share_a_trial(
        self, store: Store, opener: Opener, new_opener: Opener | None
    ) -> None:
        """4 processes: open a new store at once; 25 asks each on one study; claims of 50 queued trials of another."""
        workers, asks, queued = 4, 25, 50
        ask_study, queue_study = _study(store), _study(store)
        for i in range(queued):
            store.enqueue(queue_study, Proposal({"x": i / queued}))
        results = _run_workers(
            _worker, [(new_opener, opener, ask_study, queue_study, f"worker-{i}", asks) for i in range(workers)]
        )
        if new_opener is not None:
            fresh = new_opener()
            try:
                assert fresh.list_studies() == []  # it was made once, whole, by whoever came first
            finally:
                fresh.close()

        # asks: numbers exactly 0..99, each claimed by one worker, holding that worker's proposal
        asked = {w: a for w, a, _ in results}
        numbers = [n for claims in asked.values() for n, _ in claims]
        assert sorted(numbers) == list(range(workers * asks))  # no gap, no duplicate
        assert all(mine for claims in asked.values() for _, mine in claims)
        for claims in asked.values():
            assert [n for n, _ in claims] == sorted(n for n, _ in claims)  # a worker's numbers only grow
        owner = {n: w for w, claims in asked.items() for n, _ in claims}
        trials = store.trials(ask_study)
        assert [t.number for t in trials] == list(range(workers * asks))
        assert all(t.status is TrialStatus.RUNNING and t.worker == owner[t.number] for t in trials)
        assert len(store.events(ask_study, ["proposal"])) == workers * asks

        # claims: each queued trial taken exactly once, and nothing new proposed
        claimed = {w: c for w, _, c in results}
        numbers = [n for c in claimed.values() for n in c]
        assert sorted(numbers) == list(range(queued))
        owner = {n: w for w, c in claimed.items() for n in c}
        trials = store.trials(queue_study)
        assert len(trials) == queued
        assert all(t.status is TrialStatus.RUNNING and t.worker == owner[t.number] for t in trials)
        assert all(t.config == {"x": pytest.approx(t.number / queued)} for t in trials)


def _worker(
    out: Any, barrier: Any, new_opener: Opener | None, opener: Opener,
    ask_study: int, queue_study: int, worker: str, asks: int,
) -> None:
    """Open a new store with the others; ask ``asks`` trials of a study; claim queued trials of another."""
    try:
        barrier.wait(timeout=60)
        if new_opener is not None:
            new_opener().close()  # every worker makes the same new store at once
        store = opener()
        rng = random.Random(worker)
        asked: list[tuple[int, bool]] = []
        claimed: list[int] = []

        def decide(changes: Changes) -> Proposal:
            history = changes.trials
            # under the lock the history is complete and gap-free
            numbers = [t.number for t in history]
            assert numbers == list(range(len(history))), numbers
            return Proposal({"x": rng.random()}, info={"by": worker})

        barrier.wait(timeout=60)
        for _ in range(asks):
            rec = _got(store.ask(ask_study, worker, decide))
            asked.append((rec.number, rec.info["by"] == worker))
        barrier.wait(timeout=60)  # all start claiming together
        while (got := store.ask(queue_study, worker, lambda changes: None)) is not None:
            claimed.append(got.number)
        store.close()
        out.put((worker, asked, claimed))
    except BaseException as exc:  # report, so that the parent fails with the reason
        out.put(f"error: {type(exc).__name__}: {exc}")


def _run_workers(target: Callable[..., None], args: list[tuple[Any, ...]], timeout: float = 120) -> list[Any]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    barrier = ctx.Barrier(len(args))
    procs = [ctx.Process(target=target, args=(out, barrier, *a), daemon=True) for a in args]
    for p in procs:
        p.start()
    results: list[Any] = []
    deadline = time.time() + timeout
    try:
        while len(results) < len(procs):
            try:
                results.append(out.get(timeout=0.5))
            except queue.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead or time.time() > deadline:
                    pytest.fail(f"workers died (exit codes {dead}) or hung; answers so far: {results}")
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    errors = [r for r in results if isinstance(r, str) and r.startswith("error")]
    assert not errors, errors
    return results


