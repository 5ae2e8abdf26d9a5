"""The greedy ablation path: known answers with a known predictor, and with a fitted surrogate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from metaml import Space, TrialRecord, TrialStatus
from metaml.report.ablation import ablation_path, same_config
from metaml.report.importance import fit_surrogate

FLAT = Space.from_dict({
    "x": {"type": "float", "lower": 0, "upper": 1},
    "y": {"type": "float", "lower": 0, "upper": 1},
    "z": {"type": "float", "lower": 0, "upper": 1},
})


def linear(configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    return np.array([5 * c["x"] + 2 * c["y"] + 1 * c["z"] for c in configs])


def test_the_path_changes_the_most_helpful_parameter_first() -> None:
    start, target = {"x": 1.0, "y": 1.0, "z": 1.0}, {"x": 0.0, "y": 0.0, "z": 0.0}
    path = ablation_path(FLAT, start, target, linear)
    assert [s.parameter for s in path.steps] == ["x", "y", "z"]
    assert [s.gain for s in path.steps] == [5.0, 2.0, 1.0]
    assert path.start_predicted == 8.0 and path.steps[-1].predicted == 0.0
    assert [(s.before, s.after) for s in path.steps] == [(1.0, 0.0)] * 3


def test_for_a_maximised_objective_the_largest_prediction_wins() -> None:
    start, target = {"x": 0.0, "y": 0.0, "z": 0.0}, {"x": 1.0, "y": 1.0, "z": 1.0}
    path = ablation_path(FLAT, start, target, linear, sign=-1.0)
    assert [s.parameter for s in path.steps] == ["x", "y", "z"]
    assert all(s.gain > 0 for s in path.steps)


def test_a_harmful_change_comes_last_and_shows_as_a_loss() -> None:
    start, target = {"x": 1.0, "y": 0.0, "z": 1.0}, {"x": 0.0, "y": 1.0, "z": 0.0}
    path = ablation_path(FLAT, start, target, linear)
    assert [s.parameter for s in path.steps] == ["x", "z", "y"]
    assert path.steps[-1].gain == -2.0


def test_a_categorical_brings_its_subspace_along_and_the_path_ends_at_the_target() -> None:
    space = Space.from_dict({
        "opt": {"type": "categorical", "choices": {
            "sgd": {"momentum": {"type": "float", "lower": 0, "upper": 1}},
            "adam": {"beta1": {"type": "float", "lower": 0.8, "upper": 0.99}},
        }},
        "lr": {"type": "float", "lower": 0, "upper": 1},
    })

    def predict(configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.array([(0.0 if c["opt"] == "adam" else 3.0) + c["lr"] for c in configs])

    start = {"opt": "sgd", "opt.sgd.momentum": 0.5, "lr": 0.9}
    target = {"opt": "adam", "opt.adam.beta1": 0.9, "lr": 0.1}
    path = ablation_path(space, start, target, predict)
    assert [s.parameter for s in path.steps] == ["opt", "lr"]
    assert path.steps[0].also == {"opt.adam.beta1": 0.9}
    assert path.steps[0].off == ["opt.sgd.momentum"]
    assert path.steps[-1].predicted == 0.1


def test_start_equal_to_target_gives_no_step() -> None:
    config = {"x": 0.2, "y": 0.3, "z": 0.4}
    path = ablation_path(FLAT, config, dict(config), linear)
    assert path.steps == [] and same_config(path.start, path.target)


def test_with_a_fitted_surrogate_the_dominant_parameter_comes_first() -> None:
    rng = np.random.default_rng(1)
    trials = []
    for i in range(150):
        c = FLAT.sample(rng)
        trials.append(TrialRecord(1, i, c, None, None, TrialStatus.COMPLETED, metrics={"y": 5 * c["x"] + 0.5 * c["y"]}))
    surrogate = fit_surrogate(FLAT, trials, "y")
    assert surrogate is not None
    path = ablation_path(FLAT, {"x": 0.95, "y": 0.95, "z": 0.5}, {"x": 0.05, "y": 0.05, "z": 0.9}, surrogate.predict)
    assert path.steps[0].parameter == "x"
    assert path.steps[0].gain > 3 * max(abs(s.gain) for s in path.steps[1:])
