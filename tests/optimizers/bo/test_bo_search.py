"""``bo`` searches well: faster than random, guided by good priors, not trapped by bad ones, within limits.

Every study here is seeded and sequential, so the outcomes are fixed; the margins are wide
enough that a change of BoTorch version moving a proposal a little does not flip them.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from metaml.core.view import StudyView
from metaml.objectives import Objective
from metaml.optimizers.bo import BayesianOptimization
from metaml.optimizers.random_search import RandomSearch
from metaml.space import Float, Space

LOSS = (Objective("loss"),)
BRANIN_MIN = 0.397887


def branin(config) -> dict[str, float]:
    x1, x2 = config["x1"], config["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return {"loss": (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10}


def best(history, name: str = "loss") -> float:
    return min(t.metrics[name] for t in history if t.metrics is not None)


@pytest.mark.slow  # over 10 s: in `make slow`
def test_bo_beats_random_search_on_branin(study) -> None:
    space = Space({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)})
    seeds, trials = range(5), 25
    bo = [best(study(BayesianOptimization(space, LOSS, seed=s), branin, trials)[0]) - BRANIN_MIN for s in seeds]
    rs = [best(study(RandomSearch(space, LOSS, seed=s), branin, trials)[0]) - BRANIN_MIN for s in seeds]
    # regret of the best trial after 25: BO's median far below random's, and BO better on every seed
    assert statistics.median(bo) < 0.25 * statistics.median(rs), (bo, rs)
    assert sum(b < r for b, r in zip(bo, rs)) >= 4, (bo, rs)


def bowl(center: float):
    def metrics(config) -> dict[str, float]:
        return {"loss": sum((config[k] - center) ** 2 for k in ("x", "y"))}

    return metrics


def prior_space(prior: float | None, confidence: str = "high") -> Space:
    return Space({"x": Float(0.0, 1.0, prior=prior, confidence=confidence), "y": Float(0.0, 1.0, prior=prior,
                                                                                     confidence=confidence)})


def distance(config, point: float) -> float:
    return math.hypot(config["x"] - point, config["y"] - point)


def test_a_prior_pulls_the_first_proposals_and_its_pull_fades(make_trial) -> None:
    """Same history, with and without the prior (at 0.2; the optimum at 0.6): piBO weight beta/n."""
    rng = np.random.default_rng(0)
    configs = [{"x": float(a), "y": float(b)} for a, b in rng.random((60, 2))]
    metrics = bowl(0.6)
    history = [make_trial(i, c, metrics(c)) for i, c in enumerate(configs)]
    space = prior_space(0.2)

    def proposal_distance(n: int, weight: float | None) -> float:
        proposal = BayesianOptimization(space, LOSS, seed=0, n_initial=5, prior_weight=weight).propose(StudyView.of(history[:n]))
        return distance(proposal.config, 0.2)

    early_with, early_without = proposal_distance(6, 10.0), proposal_distance(6, 0)
    late_with, late_without = proposal_distance(60, 10.0), proposal_distance(60, 0)
    assert early_with < early_without - 0.15, (early_with, early_without)
    assert abs(late_with - late_without) < 0.05, (late_with, late_without)


def test_the_prior_seeds_the_initial_design(study) -> None:
    history, proposals = study(BayesianOptimization(prior_space(0.2), LOSS, seed=1), bowl(0.6), 5)
    assert proposals[0].config == {"x": 0.2, "y": 0.2}  # the expert's own configuration first
    assert "the expert prior's own configuration" in proposals[0].reason
    # then prior and uniform Sobol points in turn: half the design near the prior, half anywhere
    assert ["through the expert priors" in p.reason for p in proposals[1:]] == [True, False, True, False]
    near = statistics.mean(distance(p.config, 0.2) for p in proposals[1::2])
    anywhere = statistics.mean(distance(p.config, 0.2) for p in proposals[2::2])
    assert near < 0.2 and near < anywhere, (near, anywhere)


def test_each_half_of_the_prior_design_covers_its_own_range(make_trial) -> None:
    """Prior and uniform points come from separate Sobol streams: neither half sits on one side of a coordinate."""
    space = prior_space(0.5, "medium")
    for seed in range(4):
        opt = BayesianOptimization(space, LOSS, seed=seed, n_initial=17)
        history = [make_trial(0, {"x": 0.5, "y": 0.5}, {"loss": 1.0})]
        for n in range(1, 17):
            proposal = opt.propose(StudyView.of(history))
            history.append(make_trial(n, proposal.config, {"loss": 1.0}))
        uniform, prior = history[2::2], history[1::2]
        for name in ("x", "y"):
            u = [t.config[name] for t in uniform]
            assert min(u) < 0.3 and max(u) > 0.7, (seed, name, u)  # spread over the range
            p = [t.config[name] for t in prior]
            assert min(p) < 0.5 < max(p), (seed, name, p)  # on both sides of the prior


def test_the_prior_configuration_comes_after_a_queued_trial(make_trial) -> None:
    queued = make_trial(0, {"x": 0.9, "y": 0.9}, {"loss": 1.0})  # e.g. a pipeline's default, enqueued
    proposal = BayesianOptimization(prior_space(0.2), LOSS, seed=0).propose(StudyView.of([queued]))
    assert proposal.config == {"x": 0.2, "y": 0.2} and "the expert prior's own configuration" in proposal.reason
    tried = make_trial(1, {"x": 0.2, "y": 0.2}, {"loss": 1.0})
    assert "scrambled Sobol" in BayesianOptimization(prior_space(0.2), LOSS, seed=0).propose(StudyView.of([queued, tried])).reason


def test_without_priors_the_design_starts_with_sobol(study) -> None:
    history, proposals = study(BayesianOptimization(prior_space(None), LOSS, seed=1), bowl(0.6), 2)
    assert all("scrambled Sobol (uniform)" in p.reason for p in proposals)
    assert BayesianOptimization(prior_space(0.2), LOSS, seed=1, prior_weight=0).propose(StudyView.of([])).config != {"x": 0.2, "y": 0.2}


def test_a_misleading_prior_does_not_stop_convergence(study) -> None:
    """A confident prior at 0.05 (the optimum at 0.75) slows the search, but its weight beta/n fades."""
    history, proposals = study(BayesianOptimization(prior_space(0.05), LOSS, seed=0), bowl(0.75), 40)
    assert best(history) < 0.005  # within 0.05 of the optimum, far from where the prior points
    # the late proposals sit near the optimum; qLogNEI may still spend one on exploring
    assert sum(distance(p.config, 0.75) < 0.1 for p in proposals[-5:]) >= 4


def test_two_objectives_with_a_limit_keep_to_the_feasible_side(study) -> None:
    """Minimize f1 = x and f2 = 1 - x + y^2 with f1 <= 0.4: the feasible front is x <= 0.4, y = 0."""
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    objectives = (Objective("f1", limit=0.4), Objective("f2"))

    def metrics(config) -> dict[str, float]:
        return {"f1": config["x"], "f2": 1.0 - config["x"] + config["y"] ** 2}

    opt = BayesianOptimization(space, objectives, seed=0, n_initial=5)
    history, proposals = study(opt, metrics, 20)
    model_based = [p for p in proposals if p.reason.startswith("qLogNEHVI")]
    assert len(model_based) == 15 and "limits on f1" in model_based[0].reason
    feasible = [p.config["x"] <= 0.4 for p in model_based]
    assert sum(feasible) >= 0.8 * len(feasible), feasible
    assert statistics.mean(p.config["y"] for p in model_based[-5:]) < 0.2
