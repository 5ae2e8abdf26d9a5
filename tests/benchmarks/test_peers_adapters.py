"""Every installed peer runs a tiny synthetic problem through the runner; missing peers skip with the install line."""

from __future__ import annotations

import pytest

from benchmarks.peers import PEERS, missing, peer_class
from benchmarks.problems.synthetic import Branin
from benchmarks.runner import simulate

# DEHB 0.1.1 calls ConfigSpace's deprecated accessors on every step: their noise, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:Please use:DeprecationWarning")

#: A few evaluations each: 2 FTE on Branin (27 epochs) is a bracket's start for the bandits.
BUDGET = {"neps-bo": 2.0, "smac-mf": 1.0}  # the slow ones: fewer evaluations


def _installed(name: str) -> None:
    reason = missing(name)
    if reason is not None:
        pytest.skip(reason)


#: Single-objective peers run Branin here; the multi-objective ones run ZDT1 in test_peers_tabular_mo.py.
SINGLE = [n for n in PEERS if not peer_class(n).multi_objective]


@pytest.mark.parametrize("name", SINGLE)
def test_peer_runs_a_tiny_problem_and_is_charged_as_declared(name: str) -> None:
    _installed(name)
    p = Branin("good")
    budget = BUDGET.get(name, 2.0)
    log, history, settings = simulate(p, name, seed=0, budget_fte=budget)
    assert log.error is None and log.stopped == "budget", log.error
    assert len(history) >= 2 and log.evaluations[-1].cumulative >= budget
    cls = peer_class(name)
    assert settings["continues"] is cls.continues and settings["charging"] == cls.charging
    if not cls.continues:  # retrain-style: every evaluation pays its whole fidelity
        assert all(h.continue_from is None and h.start_step == 0 for h in history)
    for h in history:  # the runner validated every config; the charge matches the epochs trained
        assert h.cost_fte == pytest.approx((h.end_step - h.start_step) / p.max_fidelity)
        assert set(h.config) == {"x1", "x2"}
    assert log.overhead_seconds >= 0.0 and log.problem_seconds > 0.0


@pytest.mark.parametrize("name", [n for n in SINGLE if n != "neps-bo"])
def test_peer_is_deterministic_given_its_seed(name: str) -> None:
    _installed(name)
    p = Branin("moderate")
    runs = [simulate(p, name, seed=3, budget_fte=1.5)[1] for _ in range(2)]
    assert [(h.config, h.end_step, h.continue_from) for h in runs[0]] == \
           [(h.config, h.end_step, h.continue_from) for h in runs[1]]


def test_pruning_style_peers_report_each_epoch_of_one_run() -> None:
    _installed("optuna-tpe-hb")
    p = Branin("good")
    log, history, _ = simulate(p, "optuna-tpe-hb", seed=0, budget_fte=3.0)
    # each Optuna trial is a chain: fresh at epoch 1, then one epoch more per evaluation
    for h in history:
        if h.continue_from is None:
            assert h.end_step == 1.0 and h.start_step == 0.0
        else:
            parent = history[h.continue_from]
            assert parent.config == h.config and h.start_step == parent.end_step == h.end_step - 1
    assert all(round(e.cost * 27, 9) == 1 for e in log.evaluations)  # one epoch each
    assert log.evaluations[-1].cumulative == pytest.approx(3.0)


def test_a_missing_peer_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    cls = peer_class("optuna-tpe")
    monkeypatch.setattr(cls, "requires", ("no_such_module_for_metaml_tests",))
    line = missing("optuna-tpe")
    assert line is not None and line.startswith("optuna-tpe: no_such_module_for_metaml_tests not installed")
    assert "pip install" in line
