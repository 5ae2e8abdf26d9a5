"""Spaces built from the Python API: every misuse is a SpaceError that says what is wrong, never another exception."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from metaml.errors import SpaceError
from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space

HUGE = 10**400  # beyond any float
VAST = 10**5000  # beyond what Python will even print


MISUSES: dict[str, Callable[[], Any]] = {
    "log given as the text 'False'": lambda: Float(1.0, 2.0, log="False"),
    "log given as the text 'true'": lambda: Int(1, 9, log="true"),
    "log given as a number": lambda: Float(1.0, 2.0, log=1),
    "a bound of 10**400": lambda: Float(0.0, HUGE),
    "a negative bound of 10**400": lambda: Float(-HUGE, 0.0),
    "an Int bound of 10**400": lambda: Int(0, HUGE),
    "an Int bound of 10**5000": lambda: Int(0, VAST),
    "a prior of 10**5000": lambda: Float(0.0, 1.0, prior=VAST),
    "a fidelity bound of 10**400": lambda: Fidelity(1, HUGE),
    "a fidelity from 1e-300 to 1e300": lambda: Fidelity(1e-300, 1e300),
    "a fidelity from the smallest float to 1": lambda: Fidelity(5e-324, 1.0),
    "a confidence that is a list": lambda: Float(0.0, 1.0, prior=0.5, confidence=["high"]),
    "a categorical confidence that is a dict": lambda: Categorical(["a", "b"], confidence={}),
    "a choice's sub-space that is a number": lambda: Categorical({"a": 5}),
    "a choice's sub-space that is a list": lambda: Categorical({"a": [Float(0.0, 1.0)]}),
    "a choice of 10**400": lambda: Categorical([1, HUGE]),
    "a constant of 10**5000": lambda: Constant(VAST),
    "a constant nested too deep": lambda: Constant(_nested(5000)),
    "an empty space": lambda: Space({}),
    "a space of only a fidelity": lambda: Space({"epochs": Fidelity(1, 9)}),
    "an empty parameter name": lambda: Space({"": Float(0.0, 1.0)}),
    "a blank parameter name": lambda: Space({"  ": Float(0.0, 1.0)}),
    "a parameter name that is not text": lambda: Space({1: Float(0.0, 1.0)}),
    "an empty name in a sub-space": lambda: Space({"m": Categorical({"a": {"": Float(0.0, 1.0)}})}),
    "a type that is a list": lambda: Space.from_dict({"x": {"type": ["float"], "lower": 0, "upper": 1}}),
    "a type that is a mapping": lambda: Space.from_dict({"x": {"type": {"float": 1}}}),
    "a misspelt setting": lambda: Space.from_dict({"x": {"type": "float", "lowr": 0, "upper": 1}}),
    "a missing bound": lambda: Space.from_dict({"x": {"type": "float", "upper": 1}}),
    "a setting whose name is a number": lambda: Space.from_dict({"x": {"type": "float", 1: 2, "lower": 0, "upper": 1}}),
    "a sub-space that is a number, from data": lambda: Space.from_dict({"c": {"type": "categorical", "choices": {"a": 5}}}),
    "decoding text": lambda: Space({"x": Float(0.0, 1.0)}).decode("x"),  # type: ignore[arg-type]
    "decoding NaN": lambda: Space({"x": Float(0.0, 1.0)}).decode(np.array([np.nan])),
    "decoding a nested list": lambda: Space({"x": Float(0.0, 1.0)}).decode([[0.1, 0.2]]),  # type: ignore[arg-type]
    "encoding text for a float": lambda: Space({"x": Float(0.0, 1.0)}).encode({"x": "a"}),
    "encoding 0 on a log scale": lambda: Space({"x": Float(1.0, 2.0, log=True)}).encode({"x": 0.0}),
    "encoding 10**400": lambda: Space({"x": Float(0.0, 1.0)}).encode({"x": HUGE}),
    "validating 10**5000": lambda: Space({"x": Int(0, 1)}).validate({"x": VAST}),
    "validating a list for a float": lambda: Space({"x": Float(0.0, 1.0)}).validate({"x": [0.5]}),
}


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("name", list(MISUSES))
def test_an_api_misuse_is_a_space_error(name: str) -> None:
    with pytest.raises(SpaceError) as info:
        MISUSES[name]()
    message = str(info.value)
    assert 0 < len(message) < 500  # short, even when the value is not


def test_log_takes_booleans_numpy_ones_too() -> None:
    assert Float(1.0, 2.0, log=np.bool_(True)).log is True
    assert Float(1.0, 2.0, log=False).to_dict() == {"type": "float", "lower": 1.0, "upper": 2.0}


def test_a_misspelt_setting_suggests_the_close_one() -> None:
    with pytest.raises(SpaceError, match="'lower'"):
        Space.from_dict({"x": {"type": "float", "lowr": 0, "upper": 1}})
    with pytest.raises(SpaceError, match="'float'"):
        Space.from_dict({"x": {"type": "flaot", "lower": 0, "upper": 1}})


@pytest.mark.parametrize("lower,upper", [(-1e308, 1e308), (-1.7976931348623157e308, 1.7976931348623157e308)])
def test_the_widest_float_range_samples_across_it(lower: float, upper: float) -> None:
    param = Float(lower, upper)
    rng = np.random.default_rng(0)
    draws = np.array([param.sample(rng, use_prior=False) for _ in range(400)])
    assert np.all(np.isfinite(draws)) and np.all((draws >= lower) & (draws <= upper))
    # uniform over the range: about half below zero, and spread, not piled at an end
    assert 0.4 < np.mean(draws < 0) < 0.6
    assert np.quantile(draws, 0.25) < -0.3 * upper and np.quantile(draws, 0.75) > 0.3 * upper
    for value in (lower, 0.0, upper, upper / 3):
        u = param.to_unit(value)
        assert 0.0 <= u <= 1.0
        assert param.from_unit(u) == pytest.approx(value, rel=1e-9, abs=upper * 1e-12)
    assert param.from_unit(0.5) == pytest.approx(0.0, abs=upper * 1e-12)


def test_a_prior_on_the_widest_range_is_around_it() -> None:
    param = Float(-1e308, 1e308, prior=0.0, confidence="high")
    rng = np.random.default_rng(1)
    draws = np.array([param.sample(rng, use_prior=True) for _ in range(400)])
    assert abs(np.median(draws)) < 0.1 * 1e308


def test_the_widest_int_range_samples_across_it() -> None:
    param = Int(-(2**53), 2**53)
    rng = np.random.default_rng(2)
    draws = [param.sample(rng, use_prior=False) for _ in range(200)]
    assert all(type(v) is int and -(2**53) <= v <= 2**53 for v in draws)
    assert 0.3 < sum(v < 0 for v in draws) / len(draws) < 0.7
    assert param.from_unit(0.0) == -(2**53) and param.from_unit(1.0) == 2**53


def test_an_int_past_2_53_is_refused_rather_than_never_drawing_some_values() -> None:
    for lower, upper in [(2**62, 2**62 + 1), (0, 10**300), (-(2**53) - 2, 0)]:
        with pytest.raises(SpaceError, match="2\\*\\*53"):
            Int(lower, upper)


def test_a_log_range_too_narrow_for_a_float_still_encodes() -> None:
    upper = float(np.nextafter(1e300, np.inf))
    param = Float(1e300, upper, log=True)
    assert param.to_unit(1e300) == 0.5 and param.from_unit(0.3) in (1e300, upper)


def test_a_wide_fidelity_within_the_limit_is_fine() -> None:
    assert Fidelity(1, 10**9).upper == 10**9
    assert Fidelity(1e-6, 1.0).lower == 1e-6


def test_a_space_of_constants_only_is_still_a_space() -> None:
    assert Space({"c": Constant(1)}).sample(np.random.default_rng(0)) == {"c": 1}
