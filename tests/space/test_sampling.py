"""Sampling: conditions, nesting and bounds hold for every draw; scales, integer ends and priors are as declared."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from metaml.space import CONFIDENCE_MASS, Categorical, Constant, Fidelity, Float, Int, Space

from ._spaces import expected_active, pipeline_space

SEEDS = range(300)


def _check_in_bounds(space: Space, config: dict) -> None:
    for name, value in config.items():
        param = space.parameters[name]
        if isinstance(param, Int):
            assert type(value) is int, (name, value)
            assert param.lower <= value <= param.upper, (name, value)
        elif isinstance(param, Float):
            assert type(value) is float, (name, value)
            assert param.lower <= value <= param.upper, (name, value)
        elif isinstance(param, Categorical):
            assert any(value == c and type(value) is type(c) for c in param.choices), (name, value)
        elif isinstance(param, Constant):
            assert value == param.value
        else:  # pragma: no cover - the fidelity never appears in a config
            pytest.fail(f"{name} ({param}) should not be in a configuration")


@pytest.mark.parametrize("use_prior", [False, True], ids=["uniform", "prior"])
def test_every_sample_holds_exactly_the_active_parameters_within_bounds(use_prior: bool) -> None:
    space = pipeline_space()
    for seed in SEEDS:
        config = space.sample(np.random.default_rng(seed), use_prior=use_prior)
        assert set(config) == expected_active(config), f"seed {seed}: {config}"
        assert "epochs" not in config  # the fidelity is never part of a config
        _check_in_bounds(space, config)
        assert space.validate(config) == config, f"seed {seed}"


def test_sampling_reaches_every_branch_of_the_nested_space() -> None:
    space = pipeline_space()
    seen: set[str] = set()
    for seed in SEEDS:
        seen |= set(space.sample(np.random.default_rng(seed)))
    assert seen == set(space.searchable)  # every parameter, the most deeply nested included


def test_sampling_is_deterministic_given_the_generator() -> None:
    space = pipeline_space()
    for seed in range(20):
        a = space.sample(np.random.default_rng(seed))
        b = space.sample(np.random.default_rng(seed))
        assert a == b
    assert space.sample(np.random.default_rng(1)) != space.sample(np.random.default_rng(2))


def test_conditional_parameter_frequency_follows_its_parent() -> None:
    space = Space(
        {
            "opt": Categorical(["sgd", "adam", "rmsprop", "adagrad"]),
            "momentum": Float(0.0, 1.0, when={"opt": ["sgd", "rmsprop"]}),
            "nesterov": Categorical([True, False], when={"momentum": [0.0]}),  # reachable only by decode
        }
    )
    rng = np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(4000)]
    with_momentum = [c for c in configs if "momentum" in c]
    assert {c["opt"] for c in with_momentum} == {"sgd", "rmsprop"}
    assert len(with_momentum) / len(configs) == pytest.approx(0.5, abs=0.03)
    assert all("nesterov" not in c for c in configs)


def test_float_samples_are_uniform_on_a_linear_scale() -> None:
    p = Float(-2.0, 6.0)
    rng = np.random.default_rng(1)
    x = np.array([p.sample(rng, False) for _ in range(20000)])
    assert x.min() >= -2.0 and x.max() <= 6.0
    assert stats.kstest((x + 2.0) / 8.0, "uniform").pvalue > 1e-3


def test_log_scaled_samples_are_uniform_in_the_log() -> None:
    p = Float(1e-5, 1e-1, log=True)
    rng = np.random.default_rng(2)
    x = np.array([p.sample(rng, False) for _ in range(20000)])
    assert x.min() >= 1e-5 and x.max() <= 1e-1
    u = (np.log10(x) + 5.0) / 4.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # each decade gets a quarter of the draws (uniform in the value would give the last one 90%)
    decades = np.histogram(np.log10(x), bins=[-5, -4, -3, -2, -1])[0] / len(x)
    assert decades == pytest.approx([0.25] * 4, abs=0.02)


@pytest.mark.parametrize("lower,upper", [(1, 5), (0, 1), (-3, 3), (7, 8)])
def test_int_end_values_are_as_likely_as_inner_ones(lower: int, upper: int) -> None:
    p = Int(lower, upper)
    rng = np.random.default_rng(3)
    n = 30000
    values = [p.sample(rng, False) for _ in range(n)]
    assert all(type(v) is int for v in values)
    counts = np.bincount(np.array(values) - lower, minlength=upper - lower + 1)
    assert len(counts) == upper - lower + 1  # nothing outside the range
    expected = n / len(counts)
    assert counts.min() > 0.94 * expected and counts.max() < 1.06 * expected, counts
    assert stats.chisquare(counts).pvalue > 1e-3


def test_int_unit_interval_gives_each_integer_an_equal_share() -> None:
    p = Int(1, 4)
    grid = np.linspace(0.0, 1.0, 400_001)
    counts = np.bincount([p.from_unit(u) for u in grid[::7]])[1:]
    assert counts / counts.sum() == pytest.approx([0.25] * 4, abs=1e-3)


def test_log_int_samples_cover_the_range_and_favour_small_values() -> None:
    p = Int(1, 1000, log=True)
    rng = np.random.default_rng(4)
    x = np.array([p.sample(rng, False) for _ in range(20000)])
    assert x.min() == 1 and x.max() == 1000
    # integer k owns [k - 0.5, k + 0.5] of the widened range, uniform in the log
    share = (math.log(31.5) - math.log(0.5)) / (math.log(1000.5) - math.log(0.5))
    assert np.mean(x <= 31) == pytest.approx(share, abs=0.015)
    assert np.mean(x == 1) > np.mean(x == 2) > np.mean(x == 3)


def test_constant_and_fidelity_never_vary() -> None:
    space = Space({"c": Constant("adamw"), "f": Fidelity(1, 10), "x": Float(0.0, 1.0)})
    for seed in range(50):
        config = space.sample(np.random.default_rng(seed))
        assert config["c"] == "adamw" and set(config) == {"c", "x"}


# ----------------------------------------------------------------------------- priors
CONFIDENCES = ["low", "medium", "high"]


def _draws(param, n: int = 6000, seed: int = 5) -> np.ndarray:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    return np.array([param.sample(rng, True) for _ in range(n)])


def test_float_prior_concentrates_more_with_more_confidence() -> None:
    near, spread = [], []
    for confidence in CONFIDENCES:
        x = _draws(Float(0.0, 10.0, prior=3.0, confidence=confidence))
        assert x.min() >= 0.0 and x.max() <= 10.0
        near.append(np.mean(np.abs(x - 3.0) < 0.5))
        spread.append(np.std(x))
    assert near[0] < near[1] < near[2], near
    assert spread[0] > spread[1] > spread[2], spread
    # a normal with sd 0.1 of the range puts ~38% within 0.05 of the range around its mean
    assert near[2] == pytest.approx(2 * stats.norm.cdf(0.5) - 1, abs=0.03)
    assert near[0] > 0.1  # even a low-confidence prior beats uniform (0.1)


def test_log_float_prior_concentrates_in_the_log() -> None:
    near = []
    for confidence in CONFIDENCES:
        x = _draws(Float(1e-5, 1e-1, log=True, prior=1e-3, confidence=confidence))
        assert np.median(np.log10(x)) == pytest.approx(-3.0, abs=0.15)
        near.append(np.mean(np.abs(np.log10(x) + 3.0) < 0.4))  # within a factor 2.5
    assert near[0] < near[1] < near[2], near


def test_int_prior_concentrates_more_with_more_confidence() -> None:
    share = []
    for confidence in CONFIDENCES:
        x = _draws(Int(0, 20, prior=15, confidence=confidence))
        assert x.min() >= 0 and x.max() <= 20
        share.append(np.mean(np.abs(x - 15) <= 1))
    assert share[0] < share[1] < share[2], share
    assert share[0] > 3 / 21


def test_prior_at_a_bound_keeps_samples_inside() -> None:
    for prior in (1e-4, 1.0):
        x = _draws(Float(1e-4, 1.0, log=True, prior=prior, confidence="high"), n=2000)
        assert x.min() >= 1e-4 and x.max() <= 1.0
        assert np.mean(np.abs(np.log10(x) - math.log10(prior)) < 0.8) > 0.6


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_categorical_prior_puts_the_configured_mass_on_its_choice(confidence: str) -> None:
    p = Categorical(["a", "b", "c", "d"], prior="c", confidence=confidence)
    x = _draws(p, n=20000)
    mass = CONFIDENCE_MASS[confidence]
    assert np.mean(x == "c") == pytest.approx(mass, abs=0.015)
    for other in "abd":
        assert np.mean(x == other) == pytest.approx((1 - mass) / 3, abs=0.015)
    assert p.prior_probabilities() == pytest.approx([(1 - mass) / 3] * 2 + [mass] + [(1 - mass) / 3])


def test_categorical_prior_never_makes_its_choice_less_likely_than_uniform() -> None:
    # five choices: a "low" prior (mass 0.5) still beats uniform (0.2); two choices: at least 0.5
    assert Categorical(list("abcde"), prior="a", confidence="low").prior_probabilities()[0] == pytest.approx(0.5)
    assert Categorical(["x", "y"], prior="y", confidence="low").prior_probabilities() == pytest.approx([0.5, 0.5])
    many = Categorical([str(i) for i in range(20)], prior="3", confidence="low").prior_probabilities()
    assert many.sum() == pytest.approx(1.0) and many[3] == max(many)


def test_priors_are_ignored_when_sampling_uniformly() -> None:
    p = Float(0.0, 1.0, prior=0.9, confidence="high")
    rng = np.random.default_rng(6)
    x = np.array([p.sample(rng, False) for _ in range(10000)])
    assert stats.kstest(x, "uniform").pvalue > 1e-3
    c = Categorical(["a", "b"], prior="a", confidence="high")
    assert np.mean([c.sample(rng, False) == "a" for _ in range(10000)]) == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("confidence", CONFIDENCES)
@pytest.mark.parametrize("prior", [0.0, 0.2, 0.5, 1.0])
def test_prior_density_is_a_density_matching_the_samples(confidence: str, prior: float) -> None:
    p = Float(0.0, 1.0, prior=prior, confidence=confidence)
    u = np.linspace(0.0, 1.0, 20001)
    density = p.prior_density(u)
    assert np.all(density >= 0)
    assert np.trapezoid(density, u) == pytest.approx(1.0, abs=1e-3)
    # the density's mass near the prior agrees with the sampler's frequency there
    x = _draws(p, n=8000)
    inside = (u >= prior - 0.1) & (u <= prior + 0.1)
    assert np.trapezoid(np.where(inside, density, 0.0), u) == pytest.approx(np.mean(np.abs(x - prior) <= 0.1), abs=0.03)
    assert Float(0.0, 1.0).prior_density(u) == pytest.approx(np.ones_like(u))


def test_default_config_is_made_of_priors_and_middles() -> None:
    space = pipeline_space()
    default = space.default()
    assert default["lr"] == pytest.approx(3e-3)
    assert default["backbone"] == "resnet" and default["backbone.resnet.blocks"] == 2
    assert default["augment"] == "flip" and "mixup_alpha" not in default
    assert default["depth"] in (2, 3)  # the middle of 1..4
    assert default["batch_size"] in (63, 64)  # the middle in the log of 16..256
    assert default["optimizer"] == "sgd"  # the first choice
    assert space.validate(default) == default


def test_space_with_priors_says_so() -> None:
    assert pipeline_space().has_priors
    assert not Space({"x": Float(0.0, 1.0), "c": Categorical(["a", "b"])}).has_priors
