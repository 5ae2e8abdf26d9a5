"""BOHB and the ``model`` sampler: the base sampler until a rung has enough results, then the GP."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from metaml.core.records import TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers import make_optimizer
from metaml.optimizers import model_sampler as ms
from metaml.optimizers.model_sampler import BOHB, ModelSampler
from metaml.optimizers.rungs import ladder_index
from metaml.space import Fidelity, Float, Space
from tests.optimizers.conftest import record

SMALL = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0), "epochs": Fidelity(1, 9)})  # ladder 1, 3, 9


def run(opt, n: int) -> list:
    """A sequential study on SMALL: (history seen, proposal) per ask; size is y, loss best near x = 0.3."""
    history: list[TrialRecord] = []
    asks = []
    for number in range(n):
        p = opt.propose(StudyView.of(list(history)))
        asks.append((list(history), p))
        metrics = {"loss": (p.config["x"] - 0.3) ** 2 + 1 / p.fidelity, "size": p.config["y"]}
        history.append(replace(record(number, p), metrics=metrics))
    return asks


def rung_results(history, ladder, rung: int) -> int:
    return sum(t.status is TrialStatus.COMPLETED and ladder_index(ladder, t.fidelity) == rung for t in history)


def test_bohb_draws_from_the_base_sampler_until_a_rung_has_enough_results_then_from_the_model(
    space, objectives, simulate
) -> None:
    opt = BOHB(space, objectives, seed=1, random_fraction=0.0)
    need = opt.model.needed(space)
    assert need == len(space.searchable) + 2 == 7  # BOHB's rule: the parameters plus two
    sim = simulate(opt, 16)
    fresh = [(seen, p) for seen, p in sim.asks if p.continue_from is None]
    for seen, p in fresh:
        if rung_results(seen, opt.ladder, 0) < need:
            assert f"model waits for a rung with {need} results" in p.reason
        else:
            assert re.search(r"model: qLogNEI maximum of a GP on the \d+ results at 1 ", p.reason), p.reason
    assert any("model:" in p.reason for _, p in fresh)


def test_the_model_uses_the_highest_rung_with_enough_results() -> None:
    opt = BOHB(SMALL, (Objective("loss"),), seed=0, random_fraction=0.0, min_points=3)
    last = [p.reason for _, p in run(opt, 40) if "model:" in p.reason]
    assert any("results at 3 " in r for r in last), last  # rung 3 filled up: the model moved up


def test_asha_takes_the_model_sampler_by_name_and_several_objectives_get_qlognehvi() -> None:
    two = (Objective("loss"), Objective("size"))
    spec = {"name": "asha", "sampler": {"name": "model", "min_points": 3, "random_fraction": 0}}
    opt = make_optimizer(spec, SMALL, two, 2)
    assert opt.settings["sampler"] == {"name": "model", "min_points": 3, "random_fraction": 0.0}

    reasons = [p.reason for _, p in run(opt, 8)]
    assert any("model: qLogNEHVI" in r for r in reasons), reasons


def test_a_model_failure_falls_back_to_the_base_sampler_and_says_why(space, objectives, simulate, monkeypatch) -> None:
    from metaml.optimizers.bo import propose as bo_propose

    def broken(*args, **kwargs):
        raise RuntimeError("not positive definite")

    monkeypatch.setattr(bo_propose, "propose", broken)
    sim = simulate(BOHB(space, objectives, random_fraction=0.0, min_points=2), 6)
    assert any("model failed (RuntimeError), fell back" in p.reason for _, p in sim.asks)


def test_the_random_fraction_draws_from_the_base_sampler(space, objectives, simulate) -> None:
    sim = simulate(BOHB(space, objectives, random_fraction=1.0, min_points=2), 12)
    fresh = [p.reason for _, p in sim.asks if p.continue_from is None]
    assert fresh and all("random fraction 1 of BOHB's draws" in r for r in fresh)


@pytest.mark.parametrize(
    "settings",
    [{"base": "model"}, {"random_fraction": 1.5}, {"min_points": 1}, {"num_restarts": -1}, {"base": 3}],
)
def test_bad_model_settings_say_what_is_wrong(settings) -> None:
    with pytest.raises(OptimizerError, match="model sampler"):
        ModelSampler(**settings)


def test_bohb_settings_name_the_model_settings(space, objectives) -> None:
    opt = make_optimizer({"name": "bohb", "eta": 2, "min_points": 4}, space, objectives)
    assert opt.settings == {"eta": 2, "min_fidelity": None, "max_fidelity": None, **ms._DEFAULTS, "min_points": 4,
                            "random_fraction": 1 / 3}
