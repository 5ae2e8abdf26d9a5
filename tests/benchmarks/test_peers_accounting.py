"""The runner charges peers by hand-checkable rules: pruning-style continuations pay one epoch, retrains pay all."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.peers import Peer, PerEpochRun, Request
from benchmarks.problems.base import Problem
from benchmarks.problems.synthetic import Hartmann6
from benchmarks.runner import simulate
from metaml.core.records import TrialRecord


def _config(v: float) -> dict[str, float]:
    return {f"x{i}": v for i in range(1, 7)}


A, B = _config(0.1), _config(0.2)
#: (config, fidelity, continue_from): A trained epoch by epoch to 3 (pruning-style), B fresh at 3,
#: then B again at 9 from scratch (retrain-style promotion), then A continued from 3 to 27.
SCRIPT: list[tuple[dict[str, float], float, int | None]] = [
    (A, 1, None),  # 1 epoch
    (A, 2, 0),     # +1
    (A, 3, 1),     # +1
    (B, 3, None),  # 3
    (B, 9, None),  # retrained: 9
    (A, 27, 2),    # continues A from 3: 24, a full-fidelity result
]


class ScriptedPeer(Peer):
    """Plays SCRIPT, then asks for B at full fidelity from scratch over and over."""

    name = "scripted-peer"
    requires = ()
    distributions = ()
    install = "nothing to install"

    def __init__(self, problem: Problem, seed: int = 0, budget_fte: float = 1.0,
                 script: list[tuple[dict[str, float], float, int | None]] | None = None) -> None:
        super().__init__(problem, seed, budget_fte)
        self.script = list(SCRIPT if script is None else script)
        self.told: list[tuple[int, float]] = []

    def ask(self) -> Request | None:
        i = len(self.told)
        if i < len(self.script):
            config, fidelity, parent = self.script[i]
            return Request(dict(config), fidelity, parent, {"step": i})
        return Request(dict(B), 27)

    def tell(self, request: Request, record: TrialRecord) -> None:
        self.told.append((record.number, self.loss(record)))


def test_continuations_pay_the_new_epochs_and_retrains_pay_everything() -> None:
    p = Hartmann6("good")
    peer = ScriptedPeer(p)
    log, history, settings = simulate(p, peer, seed=0, budget_fte=2.0)
    paid = [1, 1, 1, 3, 9, 24, 27]  # the 7th crosses 2 FTE (66/27) and ends the run
    assert [round(e.cost * 27, 9) for e in log.evaluations] == paid
    assert [round(e.cumulative * 27, 9) for e in log.evaluations] == [1, 2, 3, 6, 15, 39, 66]
    assert [(h.start_step, h.end_step) for h in history[:6]] == [(0, 1), (1, 2), (2, 3), (0, 3), (0, 9), (3, 27)]
    assert [e.full for e in log.evaluations] == [False] * 5 + [True, True]
    assert history[5].metrics == p.evaluate(A, 27, seed=0)  # a continued run ends where a direct one does
    assert [n for n, _ in peer.told] == list(range(7))
    assert settings["continues"] is False and "charging" in settings
    assert log.stopped == "budget"


def test_scratch_charges_a_peer_every_evaluation_whole() -> None:
    p = Hartmann6("good")
    log, _, _ = simulate(p, ScriptedPeer(p), seed=0, budget_fte=2.0, scratch=True)
    assert [round(e.cost * 27, 9) for e in log.evaluations] == [1, 2, 3, 3, 9, 27, 27]


@pytest.mark.parametrize("script,message", [
    ([(A, 3, None), (B, 9, 0)], "another config"),
    ([(A, 9, None), (A, 3, 0)], "below the 9.0 already trained"),
    ([(A, 3, None), (A, 9, 4)], "names no finished trial"),
])
def test_a_peer_that_continues_wrongly_ends_its_run_with_the_reason(script: list[Any], message: str) -> None:
    p = Hartmann6("good")
    log, history, _ = simulate(p, ScriptedPeer(p, script=script), seed=0, budget_fte=2.0)
    assert len(history) == 1 and log.stopped == "error" and message in (log.error or "")


class Exhausted(ScriptedPeer):
    def ask(self) -> Request | None:
        return None if self.told else super().ask()


class Broken(ScriptedPeer):
    def tell(self, request: Request, record: TrialRecord) -> None:
        raise RuntimeError("library bug")


def test_a_peer_that_stops_proposing_or_raises_ends_only_its_run() -> None:
    p = Hartmann6("good")
    log, history, _ = simulate(p, Exhausted(p), seed=0, budget_fte=2.0)
    assert len(history) == 1 and log.stopped == "the peer has nothing more to propose"
    log, history, _ = simulate(p, Broken(p), seed=0, budget_fte=2.0)
    assert len(history) == 1 and log.stopped == "error" and "tell raised RuntimeError: library bug" in (log.error or "")


def test_a_time_box_ends_the_run_and_says_so() -> None:
    p = Hartmann6("good")
    log, history, _ = simulate(p, ScriptedPeer(p), seed=0, budget_fte=100.0, time_box_s=0.0)
    assert history == [] and log.stopped == "time-box 0 s"


def test_per_epoch_run_continues_its_own_last_evaluation() -> None:
    run = PerEpochRun(dict(A), handle="trial", first=1)
    assert run.request() == Request(A, 1.0, None, {})
    run.last, run.epoch = 0, 2.0
    assert run.request({"k": 1}) == Request(A, 2.0, 0, {"k": 1})
