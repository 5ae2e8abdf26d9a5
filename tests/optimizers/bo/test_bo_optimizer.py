"""``bo`` as an optimizer: settings, phases and reasons, pending trials, fallbacks, determinism."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from metaml.core.records import TrialStatus
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers import available, make_optimizer
from metaml.optimizers.bo import BayesianOptimization
from metaml.optimizers.bo import model as bo_model
from metaml.space import Categorical, Fidelity, Float, Int, Space

LOSS = (Objective("loss"),)


def quad_space() -> Space:
    return Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0), "k": Categorical(["a", "b"]), "epochs": Fidelity(1, 9)})


def quad(config) -> dict[str, float]:
    return {"loss": (config["x"] - 0.7) ** 2 + (config["y"] - 0.2) ** 2 + (0.0 if config["k"] == "b" else 0.3)}


def completed(make_trial, space: Space, n: int, seed: int = 0, fidelity: float | None = 9):
    rng = np.random.default_rng(seed)
    configs = [space.sample(rng) for _ in range(n)]
    return [make_trial(i, c, quad(c), fidelity=fidelity) for i, c in enumerate(configs)]


def test_bo_is_registered_and_its_settings_rebuild_it() -> None:
    assert "bo" in available()
    opt = make_optimizer({"name": "bo", "n_initial": 4, "prior_weight": 0, "refit_every": 3}, quad_space(), LOSS, 1)
    assert isinstance(opt, BayesianOptimization)
    settings = json.loads(json.dumps(opt.settings))
    again = make_optimizer({"name": "bo", **settings}, quad_space(), LOSS, 1)
    assert again.settings == opt.settings
    assert opt.settings == {"n_initial": 4, "prior_weight": 0, "refit_every": 3, "raw_samples": None, "num_restarts": 4,
                            "parallel": None}
    assert opt.raw_samples == 256 and BayesianOptimization(quad_space(), LOSS * 2).raw_samples == 128


@pytest.mark.parametrize(
    "bad", [{"n_initial": 0}, {"refit_every": 0}, {"raw_samples": 1.5}, {"num_restarts": True}, {"prior_weight": -1},
            {"prior_weight": "high"}, {"prior_weight": math.inf}, {"parallel": 0}, {"parallel": 2.0}]
)
def test_wrong_settings_say_what_is_allowed(bad) -> None:
    name = next(iter(bad))
    with pytest.raises(OptimizerError, match=f"bo: {name} must be"):
        BayesianOptimization(quad_space(), LOSS, **bad)


def test_the_default_initial_design_is_twice_the_parameters_between_5_and_10() -> None:
    assert BayesianOptimization(Space({"x": Float(0, 1)}), LOSS).n_initial == 5
    assert BayesianOptimization(quad_space(), LOSS).n_initial == 6
    assert BayesianOptimization(Space({f"x{i}": Float(0, 1) for i in range(8)}), LOSS).n_initial == 10


def test_the_initial_design_then_the_model_with_reasons(make_trial) -> None:
    space = quad_space()
    opt = BayesianOptimization(space, LOSS, seed=0, n_initial=5)
    history = []
    for number in range(5):
        proposal = opt.propose(StudyView.of(history))
        assert proposal.reason.startswith(f"initial design, point {number + 1} of 5: scrambled Sobol (uniform)")
        assert proposal.fidelity == 9
        history.append(make_trial(number, proposal.config, quad(proposal.config), fidelity=9))
    proposal = opt.propose(StudyView.of(history))
    assert proposal.reason == "qLogNEI maximum over 5 completed trials (GP refit)"
    assert proposal.fidelity == 9 and space.validate(proposal.config) == proposal.config
    assert proposal.info == {"acquisition": "qLogNEI", "observations": 5, "hyperparameters_from": [5]}
    history.append(make_trial(5, proposal.config, None, fidelity=9))
    history.append(make_trial(6, proposal.config, None, status=TrialStatus.RUNNING, fidelity=9))
    assert opt.propose(StudyView.of(history)).reason == (
        "qLogNEI maximum over 5 completed trials, 1 failed imputed as the worst, 1 pending "
        "(GP hyperparameters from the first 5 observations)"
    )


def test_the_design_goes_on_while_too_few_trials_completed(make_trial) -> None:
    space = quad_space()
    history = [make_trial(i, space.sample(np.random.default_rng(i)), None, fidelity=9) for i in range(7)]
    proposal = BayesianOptimization(space, LOSS, n_initial=5).propose(StudyView.of(history))
    assert proposal.reason.startswith("0 completed trial(s) at full fidelity, the GP needs 2: design point 8")


def test_two_pending_trials_get_distinct_proposals(make_trial) -> None:
    space = quad_space()
    history = completed(make_trial, space, 12)
    opt = BayesianOptimization(space, LOSS, seed=0)
    first = opt.propose(StudyView.of(history))
    history.append(make_trial(12, first.config, status=TrialStatus.RUNNING, fidelity=9))
    second = opt.propose(StudyView.of(history))
    history.append(make_trial(13, second.config, status=TrialStatus.RUNNING, fidelity=9))
    third = opt.propose(StudyView.of(history))
    configs = [json.dumps(p.config, sort_keys=True) for p in (first, second, third)]
    assert len(set(configs)) == 3
    assert "2 pending" in third.reason


def test_lower_fidelity_trials_do_not_train_the_model(make_trial) -> None:
    space = quad_space()
    history = completed(make_trial, space, 8) + [
        replace(t, number=8 + t.number, fidelity=3) for t in completed(make_trial, space, 4, seed=1)
    ]
    proposal = BayesianOptimization(space, LOSS).propose(StudyView.of(history))
    assert "over 8 completed trials" in proposal.reason and proposal.fidelity == 9


@pytest.mark.parametrize("error", [bo_model.GPFitError("NotPSDError: matrix not positive definite"), RuntimeError("NaN")])
def test_a_failed_gp_fit_falls_back_to_a_sample_and_says_why(make_trial, monkeypatch, error) -> None:
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(bo_model, "fit_hyperparameters", broken)
    space = quad_space()
    proposal = BayesianOptimization(space, LOSS).propose(StudyView.of(completed(make_trial, space, 8)))
    assert proposal.reason.startswith("GP fit failed (")
    assert proposal.reason.endswith("): fell back to a uniform sample")
    assert space.validate(proposal.config) == proposal.config

    prior_space = Space({"x": Float(0.0, 1.0, prior=0.3), "y": Float(0.0, 1.0), "k": Categorical(["a", "b"])})
    proposal = BayesianOptimization(prior_space, LOSS).propose(StudyView.of(completed(make_trial, prior_space, 8, fidelity=None)))
    assert proposal.reason.endswith("fell back to a prior sample")


def test_a_failing_acquisition_falls_back_too(make_trial, monkeypatch) -> None:
    from metaml.optimizers.bo import acquisition

    def broken(*args, **kwargs):
        raise ValueError("cholesky failed")

    monkeypatch.setattr(acquisition, "maximize", broken)
    space = quad_space()
    proposal = BayesianOptimization(space, LOSS).propose(StudyView.of(completed(make_trial, space, 8)))
    assert proposal.reason == "model-based proposal failed (ValueError: cholesky failed): fell back to a uniform sample"


def test_a_fresh_optimizer_decides_exactly_as_a_warm_one(make_trial) -> None:
    """Between refits the warm optimizer reuses cached hyperparameters; a fresh one refits the same prefix."""
    space = quad_space()
    history = completed(make_trial, space, 12)
    warm = BayesianOptimization(space, LOSS, seed=4)
    warm.propose(StudyView.of(history[:10]))  # fits the anchor of 10
    for n in (11, 12):
        proposal = warm.propose(StudyView.of(history[:n]))
        assert "GP hyperparameters from the first 10 observations" in proposal.reason
        assert BayesianOptimization(Space.from_dict(space.to_dict()), LOSS, seed=4).propose(StudyView.of(history[:n])) == proposal


def test_ask_leaves_the_global_random_state_and_threads_as_they_were(make_trial) -> None:
    space = quad_space()
    history = completed(make_trial, space, 8)
    torch.manual_seed(123)
    np.random.seed(7)
    torch_state, numpy_state, threads = torch.get_rng_state(), np.random.get_state(), torch.get_num_threads()
    BayesianOptimization(space, LOSS).propose(StudyView.of(history))
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == numpy_state[1].tolist()
    assert torch.get_num_threads() == threads


def test_conditional_parameters_are_proposed_only_where_active(make_trial) -> None:
    space = Space(
        {
            "model": Categorical({"mlp": {"width": Int(8, 256, log=True), "act": Categorical(["relu", "tanh"])},
                                  "linear": {}}),
            "lr": Float(1e-4, 1e-1, log=True),
        }
    )

    def loss(config) -> dict[str, float]:
        value = (math.log10(config["lr"]) + 2) ** 2
        if config["model"] == "mlp":
            value -= 0.2 * (config["model.mlp.act"] == "tanh") + 0.001 * config["model.mlp.width"]
        return {"loss": value}

    rng = np.random.default_rng(0)
    history = [make_trial(i, c, loss(c)) for i, c in enumerate(space.sample(rng) for _ in range(10))]
    opt = BayesianOptimization(space, LOSS)
    for number in range(10, 14):
        proposal = opt.propose(StudyView.of(history))
        assert space.validate(proposal.config) == proposal.config
        history.append(make_trial(number, proposal.config, loss(proposal.config)))


def test_a_space_of_constants_only_is_refused() -> None:
    from metaml.space import Constant

    with pytest.raises(OptimizerError, match="at least one parameter"):
        BayesianOptimization(Space({"c": Constant(1)}), LOSS)
