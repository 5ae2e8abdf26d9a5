"""Transfer from earlier studies: the greedy portfolio, RGPE's weights, and the optimizer that combines them."""

from __future__ import annotations

import numpy as np

from metaml.core.records import TrialStatus
from metaml.core.view import StudyView
from metaml.core.warm_start import PriorObservation, PriorStudy
from metaml.objectives import Objective
from metaml.optimizers import make_optimizer
from metaml.optimizers.transfer_models import Points, rgpe_weights
from metaml.optimizers.transfer_portfolio import greedy_portfolio
from metaml.space import Fidelity, Float, Space
from metaml.testing.optimizers import build_space, build_warm_start, simulate

SPACE = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 27)})


def _study(name: str, best: float, n: int = 30) -> PriorStudy:
    xs = np.linspace(0.0, 1.0, n)
    obs = tuple(PriorObservation(i, {"x": float(x)}, 1.0, (float((x - best) ** 2),)) for i, x in enumerate(xs))
    return PriorStudy(name, "memory", None, obs, n_trials=n, cost_fte=float(n))


def test_the_greedy_portfolio_covers_every_earlier_study_before_repeating_one() -> None:
    a, b = _study("a", 0.1), _study("b", 0.9)

    def predict(i: int, configs: list[dict]) -> np.ndarray:
        best = (0.1, 0.9)[i]
        return np.array([(c["x"] - best) ** 2 for c in configs])

    members = greedy_portfolio([a, b], 2, predict)
    assert sorted(origin for _, origin in members) == ["a", "b"]
    picked = sorted(round(c["x"], 2) for c, _ in members)
    assert picked[0] < 0.2 and picked[1] > 0.8  # one near each optimum, not two near one


def test_rgpe_weighs_a_misleading_earlier_study_down_to_nothing() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(20)
    points = Points(np.zeros((20, 2)), y, np.ones(20))
    faithful = y + 0.05 * rng.standard_normal(20)
    misleading = -y  # ranks every pair the wrong way round
    own = y + 0.2 * rng.standard_normal(20)
    w = rgpe_weights([faithful, misleading], own, points, np.random.default_rng(1))
    assert w.sources[1] == 0.0 and 1 in w.dropped
    assert w.sources[0] > 0.5 and abs(sum(w.sources) + w.own - 1.0) < 1e-9


def test_without_results_of_its_own_every_earlier_study_weighs_alike() -> None:
    points = Points(np.zeros((0, 2)), np.zeros(0), np.zeros(0))
    w = rgpe_weights([np.zeros(0), np.zeros(0)], None, points, np.random.default_rng(0))
    assert w.sources == (0.5, 0.5) and w.own == 0.0 and w.pairs == 0


def test_the_portfolio_runs_first_as_a_bracket_of_its_own_from_the_lowest_rung() -> None:
    space = build_space()  # hyperband's ladder on 1..27 with eta 3: 1, 3, 9, 27 (bohb's too)
    opt = make_optimizer({"name": "transfer", "base": "hyperband", "portfolio": 3}, space, (Objective("loss"),), 0)
    sim = simulate(opt, 8, warm_start=build_warm_start(), fails=lambda n: False)
    asks = [p for _, p in sim.asks]
    assert [p.info.get("transfer", {}).get("method") for p in asks[:6]] == ["portfolio"] * 6
    assert [(p.fidelity, p.continue_from is None) for p in asks[:3]] == [(1, True)] * 3
    earlier = [dict(o.config) for o in build_warm_start()[0].observations]
    assert all(p.config in earlier for p in asks[:3])
    # the best member at the lowest rung continues from its checkpoint, rung by rung, to the full fidelity
    best = min(sim.history[:3], key=lambda t: t.metrics["loss"])  # type: ignore[index]
    assert [(p.fidelity, p.continue_from) for p in asks[3:6]] == [(3, best.number), (9, 3), (27, 4)]
    assert asks[6].info.get("transfer", {}).get("method") in ("rgpe", "base") and "bracket" in asks[6].info


def test_a_scrambled_earlier_study_loses_its_weight_and_the_faithful_one_keeps_some() -> None:
    space = build_space()
    opt = make_optimizer({"name": "transfer", "base": "hyperband", "portfolio": 2}, space, (Objective("loss"),), 0)
    sim = simulate(opt, 45, warm_start=build_warm_start(n=60), fails=lambda n: False)
    weighed = [p.info["transfer"] for _, p in sim.asks if "weights" in p.info.get("transfer", {})]
    late = weighed[-1]["weights"]
    assert late["scrambled"] < 0.05 < late["earlier"]


def test_without_earlier_studies_transfer_is_its_base() -> None:
    space = build_space()
    a = simulate(make_optimizer({"name": "transfer", "base": "hyperband"}, space, (Objective("loss"),), 4), 20)
    b = simulate(make_optimizer("hyperband", space, (Objective("loss"),), 4), 20)
    assert [(p.config, p.fidelity, p.continue_from) for _, p in a.asks] == [
        (p.config, p.fidelity, p.continue_from) for _, p in b.asks]


def test_after_the_portfolio_only_new_configurations_change_promotions_are_the_bases() -> None:
    space = build_space()
    spec = {"name": "transfer", "base": "hyperband"}
    opt = make_optimizer(spec, space, (Objective("loss"),), 0)
    sim = simulate(opt, 40, warm_start=build_warm_start(), fails=lambda n: False)
    base = make_optimizer("hyperband", space, (Objective("loss"),), 0)
    for seen, p in sim.asks:
        if p.continue_from is not None and p.info.get("transfer", {}).get("method") != "portfolio":
            # after the portfolio, every promotion is exactly the base's on the same history
            assert "transfer" not in p.info and base.propose(StudyView.of(seen)) == p
            assert seen[p.continue_from].status is TrialStatus.COMPLETED
    view = StudyView.of(sim.history, warm_start=build_warm_start())
    assert opt.propose(view) == make_optimizer(spec, space, (Objective("loss"),), 0).propose(view)
