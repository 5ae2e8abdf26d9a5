"""``bo``'s data side: which trials train the GP, imputation, priors, the Sobol design, refit anchors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metaml.core.records import TrialStatus
from metaml.objectives import Objective
from metaml.optimizers.bo.encoding import collect_rows, training_data
from metaml.optimizers.bo.prior import log_prior_density, sobol_configs
from metaml.space import Categorical, Fidelity, Float, Int, Space

OBJECTIVES = (Objective("loss"), Objective("acc", goal="max"))


def flat_space() -> Space:
    return Space({"x": Float(0.0, 1.0), "n": Int(1, 4), "kind": Categorical(["a", "b"]), "epochs": Fidelity(1, 9)})


def data_of(history, objectives=OBJECTIVES, space=None, fidelity=9):
    space = space or flat_space()
    rows, pending = collect_rows(space, objectives, history, fidelity)
    return rows, training_data(rows, pending, len(objectives), space.n_dims)


def test_completed_trials_at_full_fidelity_train_and_failed_ones_are_imputed_as_the_worst(make_trial) -> None:
    c = {"x": 0.5, "n": 2, "kind": "a"}
    history = [
        make_trial(0, c, {"loss": 1.0, "acc": 0.9}, fidelity=9),
        make_trial(1, c, {"loss": 3.0, "acc": 0.7}, fidelity=9),
        make_trial(2, c, None, fidelity=9),  # failed
        make_trial(3, c, {"loss": 0.1, "acc": 0.99}, fidelity=3),  # a lower fidelity: another function
        make_trial(4, c, {"loss": 0.2, "acc": 0.95}, status=TrialStatus.PRUNED, fidelity=9),
        make_trial(5, c, None, status=TrialStatus.LOST, fidelity=9),
        make_trial(6, {"x": 0.1, "n": 1, "kind": "b"}, None, status=TrialStatus.RUNNING, fidelity=9),
        make_trial(7, c, {"loss": float("nan"), "acc": 0.8}, fidelity=9),  # not finite: counts as failed
    ]
    _, data = data_of(history)
    assert (data.n, data.n_completed, data.n_failed) == (4, 2, 2)
    # losses: lower is better, so the maximized accuracy is negated; the worst is the max
    np.testing.assert_allclose(data.losses, [[1.0, -0.9], [3.0, -0.7], [3.0, -0.7], [3.0, -0.7]])
    assert data.pending.shape == (1, flat_space().n_dims)
    np.testing.assert_allclose(data.pending[0], flat_space().encode({"x": 0.1, "n": 1, "kind": "b"}))


def test_without_a_fidelity_every_completed_trial_counts(make_trial) -> None:
    space = Space({"x": Float(0.0, 1.0)})
    history = [make_trial(i, {"x": i / 10}, {"loss": float(i)}) for i in range(3)]
    _, data = data_of(history, objectives=(Objective("loss"),), space=space, fidelity=None)
    assert data.n_completed == 3


def test_imputation_looks_only_at_the_prefix_it_is_given(make_trial) -> None:
    c = {"x": 0.5, "n": 2, "kind": "a"}
    history = [
        make_trial(0, c, {"loss": 1.0, "acc": 0.5}, fidelity=9),
        make_trial(1, c, None, fidelity=9),
        make_trial(2, c, {"loss": 9.0, "acc": 0.1}, fidelity=9),
    ]
    rows, _ = data_of(history)
    prefix = training_data(rows[:2], np.zeros((0, 5)), 2, 5)
    np.testing.assert_allclose(prefix.losses[1], [1.0, -0.5])  # not the later 9.0


def test_failed_trials_are_dropped_while_nothing_completed(make_trial) -> None:
    _, data = data_of([make_trial(0, {"x": 0.5, "n": 2, "kind": "a"}, None, fidelity=9)])
    assert data.n == 0 and data.n_failed == 0


def test_the_prior_density_counts_only_active_parameters_with_a_prior() -> None:
    space = Space(
        {
            "lr": Float(1e-4, 1e-1, log=True, prior=1e-2, confidence="high"),
            "plain": Float(0.0, 1.0),
            "model": Categorical({"mlp": {"width": Int(8, 64, prior=32)}, "linear": {}}, prior="mlp"),
        }
    )
    lr, model, width = space.parameters["lr"], space.parameters["model"], space.parameters["model.mlp.width"]
    config = {"lr": 1e-2, "plain": 0.3, "model": "linear"}
    expected = math.log(lr.prior_density(np.array([lr.to_unit(1e-2)]))[0]) + math.log(model.prior_probabilities()[1])
    assert log_prior_density(space, config) == pytest.approx(expected)
    with_width = {"lr": 1e-2, "plain": 0.9, "model": "mlp", "model.mlp.width": 32}
    expected = (
        math.log(lr.prior_density(np.array([lr.to_unit(1e-2)]))[0])
        + math.log(model.prior_probabilities()[0])
        + math.log(width.prior_density(np.array([width.to_unit(32)]))[0])
    )
    assert log_prior_density(space, with_width) == pytest.approx(expected)
    assert log_prior_density(space, {**config, "lr": 1e-4}) < log_prior_density(space, config)


def test_the_sobol_design_is_valid_deterministic_and_indexable() -> None:
    space = Space({"x": Float(0.0, 1.0), "n": Int(1, 4), "kind": Categorical({"a": {"y": Float(1.0, 2.0)}, "b": {}})})
    five = sobol_configs(space, 5, 0, seed=3, use_prior=False)
    assert all(space.validate(c) == c for c in five)
    assert five == sobol_configs(space, 5, 0, seed=3, use_prior=False)
    assert sobol_configs(space, 1, 3, seed=3, use_prior=False)[0] == five[3]
    assert five != sobol_configs(space, 5, 0, seed=4, use_prior=False)
    eight = sobol_configs(space, 8, 0, seed=0, use_prior=False)
    assert {c["kind"] for c in eight} == {"a", "b"} and len({c["n"] for c in eight}) == 4


def test_the_design_follows_the_priors_when_asked() -> None:
    space = Space({"x": Float(0.0, 1.0, prior=0.8, confidence="high"), "k": Categorical(["a", "b", "c"], prior="c")})
    drawn = sobol_configs(space, 32, 0, seed=0, use_prior=True)
    assert abs(np.mean([c["x"] for c in drawn]) - 0.8) < 0.05
    assert sum(c["k"] == "c" for c in drawn) > 32 * 0.6
    uniform = sobol_configs(space, 32, 0, seed=0, use_prior=False)
    assert abs(np.mean([c["x"] for c in uniform]) - 0.5) < 0.05


def test_refit_anchors_are_multiples_and_objectives_take_turns() -> None:
    from metaml.optimizers.bo.model import anchor_size

    assert [anchor_size(n, 5) for n in (3, 5, 9, 10, 14)] == [3, 5, 5, 10, 10]
    # two objectives: the first is refitted at 10, 20, ..., the second at 5, 15, ... (both at 5, the first multiple)
    assert [anchor_size(n, 5, 0, 2) for n in (3, 7, 10, 19, 20)] == [3, 5, 10, 10, 20]
    assert [anchor_size(n, 5, 1, 2) for n in (3, 7, 14, 15, 24)] == [3, 5, 5, 15, 15]
