"""The runner's cost accounting on a scripted sequence of fresh trials and continuations, by hand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from benchmarks.problems.synthetic import Hartmann6
from benchmarks.runner import Evaluation, RunLog, measure, run_many, simulate
from benchmarks.targets import Targets
from metaml.core.records import Proposal
from metaml.core.view import StudyView
from metaml.objectives import Objective
from metaml.optimizers import Optimizer, available
from metaml.optimizers import registry as optimizer_registry
from metaml.space import Space


def _config(v: float) -> dict[str, float]:
    return {f"x{i}": v for i in range(1, 7)}


A, B, C, D, E = (_config(v) for v in (0.1, 0.2, 0.3, 0.4, 0.5))
# (config, fidelity, continue_from); after the script: E at full fidelity, over and over
SCRIPT: list[tuple[dict[str, float], float, int | None]] = [
    (A, 3, None),    # fresh: 3/27
    (B, 3, None),    # fresh: 3/27
    (A, 9, 0),       # continues trial 0 from 3 to 9: 6/27
    (A, 27, 2),      # continues trial 2 from 9 to 27: 18/27, a full-fidelity result
    (C, 27, None),   # fresh full run: 27/27
    (D, 1.6, None),  # rounds to 2 epochs: 2/27
]


class Scripted(Optimizer):
    """Proposes SCRIPT in order (or the given script), then E at full fidelity."""

    name = "scripted-test"

    def __init__(self, space: Space, objectives: Sequence[Objective], seed: int = 0,
                 script: Sequence[tuple[dict[str, float], float, int | None]] | None = None) -> None:
        super().__init__(space, objectives, seed)
        self.script = list(SCRIPT if script is None else script)

    def propose(self, view: StudyView) -> Proposal | None:
        i = len(view.trials)
        if i < len(self.script):
            config, fidelity, parent = self.script[i]
            if config is None:
                return None
            return Proposal(dict(config), fidelity, parent, info={"step": i})
        return Proposal(dict(E), 27)


def test_continuations_pay_only_the_extra_epochs() -> None:
    p = Hartmann6("good")
    log, history, _ = simulate(p, Scripted(p.space, p.objectives), seed=0, budget_fte=3.0)
    paid = [3, 3, 6, 18, 27, 2, 27]  # the 7th trial crosses 3 FTE (86/27) and ends the run
    assert [round(e.cost * 27, 9) for e in log.evaluations] == paid
    assert [round(e.cumulative * 27, 9) for e in log.evaluations] == [3, 6, 12, 30, 57, 59, 86]
    assert [e.full for e in log.evaluations] == [False, False, False, True, True, False, True]
    assert [(h.start_step, h.end_step) for h in history[:4]] == [(0, 3), (0, 3), (3, 9), (9, 27)]
    assert history[3].continue_from == 2 and history[3].info == {"step": 3}
    assert history[5].fidelity == 1.6 and history[5].end_step == 2.0  # recorded as asked, charged as trained
    assert all(h.cost_fte == pytest.approx(c / 27) for h, c in zip(history, paid, strict=True))
    assert log.stopped == "budget"
    # the value at 27 reached through continuations is the direct full-fidelity value: curves are prefixes
    assert history[3].metrics == p.evaluate(A, 27, seed=0)


def test_scratch_variant_makes_the_same_trials_but_pays_full_price() -> None:
    p = Hartmann6("good")
    log, history, _ = simulate(p, Scripted(p.space, p.objectives), seed=0, budget_fte=3.0, scratch=True)
    assert [round(e.cumulative * 27, 9) for e in log.evaluations] == [3, 6, 15, 42, 69, 71, 98]
    assert history[3].continue_from == 2  # the optimizer still sees the lineage


def _targets() -> Targets:
    return Targets(problem="t", objective="loss", target=1.0, best=0.0, best_random=0.0, median=10.0,
                   quantile=0.01, n=5000, seed=0, fingerprint="x", seconds=0.0)


def test_measures_count_only_full_fidelity_results() -> None:
    log = RunLog([
        Evaluation(0, 9, 0, 0.5, 0.5, 5.0, False),
        Evaluation(1, 27, 0, 1.0, 1.5, 4.0, True),
        Evaluation(2, 9, 0, 0.5, 2.0, 0.1, False),  # better, but only at low fidelity: not "found"
        Evaluation(3, 27, 9, 2.0, 4.0, 3.0, True),
        Evaluation(4, 27, 0, 2.0, 6.0, 3.5, True),
        Evaluation(5, 27, 0, 6.0, 12.0, 0.5, True),
    ], ask_seconds=[0.001, 0.003])
    m = measure(log, _targets(), budget_fte=30.0, max_fidelity=27)
    assert m["trajectory"] == [[1.5, 4.0], [4.0, 3.0], [12.0, 0.5]]
    assert m["fte_to_target"] == 12.0
    assert m["regret"] == {"3": 0.4, "5": 0.3, "10": 0.3, "30": 0.05}
    assert (m["n_evaluations"], m["n_full"], m["n_continuations"]) == (6, 4, 1)
    assert m["fte_reused"] == pytest.approx(9 / 27)
    assert m["ask_ms"]["mean"] == pytest.approx(2.0)
    # with a budget of 10 the last result is past the budget: no target, no regret at 30
    m = measure(log, _targets(), budget_fte=10.0, max_fidelity=27)
    assert m["fte_to_target"] is None and m["final_best"] == 3.0
    assert m["regret"] == {"3": 0.4, "5": 0.3, "10": 0.3}
    # before the first full-fidelity result nothing is found: regret is None (infinite)
    assert measure(RunLog(log.evaluations[:1]), _targets(), 30.0, 27)["regret"]["3"] is None


@pytest.mark.parametrize("script,message", [
    ([(A, 3, None), (B, 9, 0)], "another config"),
    ([(A, 9, None), (A, 3, 0)], "below the 9.0 already trained"),
    ([(A, 3, None), (A, 9, 5)], "names no finished trial"),
    ([(A, 3, None), (None, 0, None)], "ask returned None"),
])
def test_bad_proposals_end_the_run_with_the_reason(script: list[Any], message: str) -> None:
    p = Hartmann6("good")
    log, history, _ = simulate(p, Scripted(p.space, p.objectives, script=script), seed=0, budget_fte=3.0)
    assert len(history) == 1
    assert message in (log.error or log.stopped)


def test_run_many_adds_a_scratch_baseline_after_optimizers_that_continue(monkeypatch: pytest.MonkeyPatch) -> None:
    available()  # load the built-ins before adding ours for this test only
    monkeypatch.setitem(optimizer_registry._REGISTRY, Scripted.name, Scripted)
    p = Hartmann6("good")
    targets = {p.name: _targets()}
    results = run_many([p], ["random", "scripted-test"], [0, 1], 3.0, targets)
    assert [(r["optimizer"], r["seed"]) for r in results] == [
        ("random", 0), ("random", 1), ("scripted-test", 0), ("scripted-test", 1),
        ("scripted-test-scratch", 0), ("scripted-test-scratch", 1)]
    assert results[2]["fte_spent"] == pytest.approx(86 / 27) and results[4]["fte_spent"] == pytest.approx(98 / 27)
    results = run_many([p], ["scripted-test"], [0], 3.0, targets, continuation_baseline=False)
    assert [r["optimizer"] for r in results] == ["scripted-test"]


def test_an_optimizer_list_splits_at_top_level_commas_only() -> None:
    from benchmarks.runner import optimizer_spec, split_optimizers

    names = split_optimizers('bohb, one_epoch@sampler={"name":"model","random_fraction":0}+rank_by=trend,,asha')
    assert names == ["bohb", 'one_epoch@sampler={"name":"model","random_fraction":0}+rank_by=trend', "asha"]
    assert optimizer_spec(names[1]) == {"name": "one_epoch", "sampler": {"name": "model", "random_fraction": 0},
                                        "rank_by": "trend"}
    assert split_optimizers(None) == [] and split_optimizers("a,[1,2],b") == ["a", "[1,2]", "b"]
