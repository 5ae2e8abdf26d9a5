"""Synthetic problems: textbook optima at full fidelity, and a fidelity knob that does what it says."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from benchmarks.problems.synthetic import BRANIN_ARGMIN, BRANIN_MIN, H6_ARGMIN, H6_MIN, ZDT1, Branin, Hartmann6

PRESETS = ("good", "moderate", "bad", "terrible")


@pytest.mark.parametrize("correlation", PRESETS)
def test_branin_minimum_at_full_fidelity(correlation: str) -> None:
    p = Branin(correlation)
    configs = [{"x1": a, "x2": b} for a, b in BRANIN_ARGMIN]
    values = p.evaluate_batch(configs, p.max_fidelity, seed=3)["loss"]
    assert np.allclose(values, BRANIN_MIN, atol=1e-5)
    assert p.optimum == BRANIN_MIN


@pytest.mark.parametrize("correlation", PRESETS)
def test_hartmann6_minimum_at_full_fidelity(correlation: str) -> None:
    p = Hartmann6(correlation)
    config = {f"x{i + 1}": v for i, v in enumerate(H6_ARGMIN)}
    assert p.evaluate(config, p.max_fidelity, seed=7)["loss"] == pytest.approx(H6_MIN, abs=1e-4)
    # no sampled point beats the optimum
    rng = np.random.default_rng(0)
    values = p.evaluate_batch([p.space.sample(rng) for _ in range(500)], p.max_fidelity)["loss"]
    assert values.min() > H6_MIN


def test_zdt1_front_is_reached_where_the_tail_is_zero_and_never_beaten() -> None:
    p = ZDT1("moderate")
    f1 = np.linspace(0, 1, 11)
    front = [{"x1": float(a), **{f"x{i}": 0.0 for i in range(2, 7)}} for a in f1]
    out = p.evaluate_batch(front, p.max_fidelity)
    assert np.allclose(out["f2"], 1 - np.sqrt(f1))
    rng = np.random.default_rng(1)
    sample = p.evaluate_batch([p.space.sample(rng) for _ in range(500)], p.max_fidelity)
    assert np.all(sample["f2"] >= 1 - np.sqrt(sample["f1"]) - 1e-12)
    assert np.allclose(ZDT1.true_front(5)[:, 1], 1 - np.sqrt(np.linspace(0, 1, 5)))


def test_kandasamy_branin_shifts_only_below_full_fidelity() -> None:
    p = Branin(bias=1.0, noise=0.0)
    c = {"x1": 2.0, "x2": 7.0}
    assert p.name == "branin-good-b1-n0"
    assert p.evaluate(c, 1, seed=0)["loss"] != pytest.approx(p.evaluate(c, 27, seed=0)["loss"])
    assert p.evaluate(c, 1, seed=0) == p.evaluate(c, 1, seed=5)  # no noise: the seed does nothing


@pytest.mark.parametrize("family", [Branin, Hartmann6])
def test_correlation_presets_order_the_rank_correlation_with_full_fidelity(family: type) -> None:
    rng = np.random.default_rng(0)
    probe = family("good")
    configs = [probe.space.sample(rng) for _ in range(600)]
    rhos = []
    for preset in PRESETS:
        p = family(preset)
        full = p.evaluate_batch(configs, p.max_fidelity)["loss"]
        low = p.evaluate_batch(configs, p.min_fidelity, seed=1)["loss"]
        mid = p.evaluate_batch(configs, 9.0, seed=1)["loss"]
        rho_low, rho_mid = spearmanr(low, full)[0], spearmanr(mid, full)[0]
        assert rho_mid > rho_low  # a higher fidelity is a better proxy
        rhos.append(rho_low)
    assert rhos == sorted(rhos, reverse=True), rhos
    assert rhos[0] > 0.75 and rhos[-1] < 0.1


def test_fidelity_noise_is_a_function_of_config_fidelity_and_seed() -> None:
    p = Hartmann6("bad")
    c = {f"x{i}": 0.3 for i in range(1, 7)}
    assert p.evaluate(c, 3, seed=1) == p.evaluate(c, 3, seed=1)
    assert p.evaluate(c, 3, seed=1) != p.evaluate(c, 3, seed=2)
    assert p.evaluate(c, 27, seed=1) == p.evaluate(c, 27, seed=2)  # none at full fidelity


def test_unknown_preset_says_which_exist() -> None:
    with pytest.raises(ValueError, match="good, moderate, bad, terrible"):
        Branin("excellent")
    assert math.isclose(Hartmann6("terrible").bias, 4.0)
