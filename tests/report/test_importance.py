"""Functional ANOVA on the random-forest surrogate ranks known-important parameters first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from metaml import Objective, Space, TrialRecord, TrialStatus
from metaml.report.importance import MIN_TRIALS, fit_surrogate, functional_anova, importance

SPACE = Space.from_dict({
    "x1": {"type": "float", "lower": 0.0, "upper": 1.0},
    "x2": {"type": "float", "lower": 0.0, "upper": 1.0},
    "x3": {"type": "float", "lower": 1e-4, "upper": 1.0, "log": True},
    "n": {"type": "int", "lower": 1, "upper": 8},
    "kind": {"type": "categorical", "choices": {"a": {}, "b": {"depth": {"type": "int", "lower": 1, "upper": 3}}}},
})


def records(fn: Callable[[dict[str, Any]], float], n: int = 120, seed: int = 0, space: Space = SPACE) -> list[TrialRecord]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        config = space.sample(rng)
        out.append(TrialRecord(1, i, config, None, None, TrialStatus.COMPLETED, metrics={"y": fn(config)}))
    return out


def test_the_one_parameter_that_matters_ranks_first_with_most_of_the_variance() -> None:
    trials = records(lambda c: 10 * (c["x2"] - 0.3) ** 2 + 0.05 * c["x1"])
    imp = importance(SPACE, trials, [Objective("y")])["y"]
    names = [m.name for m in imp.main]
    assert names[0] == "x2"
    assert imp.main[0].fraction > 0.6
    assert all(m.fraction < 0.1 for m in imp.main[1:])
    assert 0.0 <= sum(imp.fractions().values()) <= 1.05


def test_a_categorical_and_its_subspace_are_ranked() -> None:
    trials = records(lambda c: (1.0 if c["kind"] == "b" else 0.0) + (0.5 * c["kind.b.depth"] if c["kind"] == "b" else 0.0))
    imp = importance(SPACE, trials, [Objective("y")])["y"]
    names = [m.name for m in imp.main]
    assert names[0] == "kind"
    assert "kind.b.depth" in names[:2]
    kind = imp.main[0]
    assert kind.kind == "categorical" and kind.values == ["a", "b"]
    assert kind.mean[1] > kind.mean[0]  # b is worse, as the function says


def test_interaction_of_two_parameters_is_found() -> None:
    trials = records(lambda c: 4 * (c["x1"] - 0.5) * (c["x2"] - 0.5), n=200)
    imp = importance(SPACE, trials, [Objective("y")])["y"]
    assert {imp.main[0].name, imp.main[1].name} == {"x1", "x2"}
    top_pair = imp.interactions[0]
    assert set(top_pair.names) == {"x1", "x2"}
    assert top_pair.fraction > max(m.fraction for m in imp.main)  # a pure product: mostly interaction
    assert len(top_pair.mean) == len(top_pair.values[0]) and len(top_pair.mean[0]) == len(top_pair.values[1])


def test_same_trials_give_the_same_numbers() -> None:
    trials = records(lambda c: c["x1"] + c["n"] / 8)
    a = importance(SPACE, trials, [Objective("y")], seed=3)["y"].to_dict()
    b = importance(SPACE, trials, [Objective("y")], seed=3)["y"].to_dict()
    assert a == b


def test_too_few_trials_give_a_note_instead_of_numbers() -> None:
    trials = records(lambda c: c["x1"], n=MIN_TRIALS - 1)
    imp = importance(SPACE, trials, [Objective("y")])["y"]
    assert imp.main == [] and str(MIN_TRIALS) in imp.note
    assert fit_surrogate(SPACE, trials, "y") is None


def test_failed_trials_and_missing_metrics_are_left_out() -> None:
    good = records(lambda c: c["x3"], n=30)
    bad = [TrialRecord(1, 100 + i, SPACE.default(), None, None, TrialStatus.FAILED, error="boom") for i in range(5)]
    surrogate = fit_surrogate(SPACE, good + bad, "y")
    assert surrogate is not None and surrogate.n_trials == 30


def test_the_fidelity_is_an_input_and_predictions_are_at_the_full_run() -> None:
    space = Space.from_dict({"x": {"type": "float", "lower": 0, "upper": 1}, "e": {"type": "fidelity", "lower": 1, "upper": 9}})
    rng = np.random.default_rng(0)
    trials = []
    for i in range(90):
        fid = [1.0, 3.0, 9.0][i % 3]
        x = float(rng.random())
        trials.append(TrialRecord(1, i, {"x": x}, fid, None, TrialStatus.COMPLETED, metrics={"y": x + 5.0 / fid}))
    surrogate = fit_surrogate(space, trials, "y")
    assert surrogate is not None and surrogate.uses_fidelity
    pred = surrogate.predict([{"x": 0.5}])[0]
    assert pred == pytest.approx(0.5 + 5.0 / 9, abs=0.25)  # the full run's value, not the short runs'
    imp = functional_anova(surrogate)
    assert [m.name for m in imp.main] == ["x"]
