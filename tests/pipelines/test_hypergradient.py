"""Hypergradient descent on the learning rate: the derivative it follows, its bounds, its failure mode, its record."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from metaml.pipelines.hypergradient import RANGE, HypergradientLR, from_config, learned_lr
from metaml.store import Proposal, TrialStatus
from tests.pipelines.conftest import PipelineCase, run_trials

A = torch.tensor([[3.0, 0.5], [0.5, 1.0]], dtype=torch.float64)


def _f(theta: torch.Tensor) -> torch.Tensor:
    return 0.5 * theta @ A @ theta


def _grad(theta: torch.Tensor) -> torch.Tensor:
    return A @ theta


def test_the_hypergradient_is_the_derivative_of_the_next_loss_by_the_last_rate() -> None:
    """On a quadratic, ∇f(θ_t)·d equals a central finite difference of f(θ_{t-1} + α d) in α."""
    previous = torch.tensor([1.0, -2.0], dtype=torch.float64)
    for update in (-_grad(previous), torch.tensor([0.3, 0.7], dtype=torch.float64)):  # SGD's step, and any other
        for alpha in (0.01, 0.1, 0.4):
            theta = previous + alpha * update
            h = HypergradientLR.hypergradient([_grad(theta)], [update])
            eps = 1e-6
            fd = (_f(previous + (alpha + eps) * update) - _f(previous + (alpha - eps) * update)) / (2 * eps)
            assert h == pytest.approx(float(fd), rel=1e-6)


def _run(lr: float, steps: int, beta: float = 0.05, optimizer: str = "sgd") -> HypergradientLR:
    torch.manual_seed(0)
    theta = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = torch.optim.SGD([theta], lr=lr) if optimizer == "sgd" else torch.optim.Adam([theta], lr=lr)
    hyper = HypergradientLR(beta)
    for _ in range(steps):
        opt.zero_grad()
        _f(theta).backward()
        step_lr = lr * hyper.observe([theta])
        for group in opt.param_groups:
            group["lr"] = step_lr
        before = [theta.detach().clone()]
        opt.step()
        hyper.remember([theta], before, step_lr)
    return hyper


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_rate_too_small_grows_and_one_too_large_shrinks(optimizer: str) -> None:
    assert _run(1e-3, 60, optimizer=optimizer).scale > 1.5  # far below the best rate (~0.5 for SGD here)
    big = 1.0  # SGD diverges above 2/λmax ≈ 0.64 (oscillating), Adam overshoots at 1
    assert _run(big, 60, optimizer=optimizer).scale < 1.0


def test_the_factor_stays_within_its_range_and_one_step_moves_it_by_at_most_beta() -> None:
    hyper = _run(1e-6, 200, beta=0.5)
    assert hyper.scale <= RANGE
    one = HypergradientLR(0.1)
    one.last_update = [torch.tensor([1e30, -1e30])]
    theta = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    theta.grad = torch.tensor([1e30, 1e30])
    assert 0.9 <= one.observe([theta]) <= 1.1  # normalized: the gradient's size does not matter


def test_a_non_finite_hypergradient_stops_the_adaptation_at_the_last_finite_value() -> None:
    hyper = _run(1e-3, 10)
    kept = hyper.scale
    theta = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=torch.float64))
    theta.grad = torch.tensor([math.nan, 1.0], dtype=torch.float64)
    assert hyper.observe([theta]) == kept and hyper.stopped and "nan" in hyper.stopped
    theta.grad = torch.tensor([1.0, 1.0], dtype=torch.float64)
    assert hyper.observe([theta]) == kept  # stopped for the rest of the run


def test_the_state_round_trips_and_bad_beta_is_refused() -> None:
    hyper = _run(1e-3, 5)
    other = HypergradientLR()
    other.load_state_dict(hyper.state_dict())
    assert other.scale == hyper.scale and other.stopped is None
    assert other.last_update is not None and torch.equal(other.last_update[0], hyper.last_update[0])  # type: ignore[index]
    with pytest.raises(ValueError, match="beta"):
        HypergradientLR(0.0)
    assert from_config({"hypergradient": "disabled"}) is None
    assert from_config({"hypergradient": "enabled", "hypergradient.enabled.beta": 0.01}).beta == 0.01  # type: ignore[union-attr]


def test_a_trial_records_its_learned_schedule(tabular_case: PipelineCase, tmp_path: Path) -> None:
    space = tabular_case.space(epochs=3)
    config = tabular_case.config({"hypergradient": "enabled", "hypergradient.enabled.beta": 0.1, "lr": 1e-4,
                                  "schedule": "constant", "batch_size": 16}, space)  # fmt: skip
    study, (record,) = run_trials(tabular_case, space, [Proposal(config, 3)], tmp_path)
    assert record.status is TrialStatus.COMPLETED, record.error
    curve = [o.metrics for o in study.store.observations(study.id, record.number)]
    assert len(curve) == 3 and all("lr_scale" in p for p in curve)
    assert curve[-1]["lr_scale"] != 1.0  # it learned something
    assert curve[-1]["lr"] == pytest.approx(1e-4 * curve[-1]["lr_scale"])  # constant schedule: rate = lr x factor
    assert learned_lr(config, curve) == pytest.approx(1e-4 * curve[-1]["lr_scale"])
    assert learned_lr({"lr": 0.01}, [{"lr": 0.01}]) == 0.01  # no adaptation: the config's rate
