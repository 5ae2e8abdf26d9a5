"""Encoding to the unit cube and back: identity on active parameters, fixed values for inactive ones."""

from __future__ import annotations

import numpy as np
import pytest

from metaml.errors import SpaceError
from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space

from ._spaces import pipeline_space


def _assert_same_config(space: Space, got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for name, value in want.items():
        param = space.parameters[name]
        if isinstance(param, Float) and not isinstance(param, Int):
            # rel 1e-9; near zero (a range around 0) the absolute rounding of the range dominates
            assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12 * (param.upper - param.lower)), name
            assert type(got[name]) is float
        else:
            assert got[name] == value and type(got[name]) is type(value), (name, got[name], value)


@pytest.mark.parametrize("use_prior", [False, True], ids=["uniform", "prior"])
def test_decode_of_encode_is_the_identity_on_active_parameters(use_prior: bool) -> None:
    space = pipeline_space()
    for seed in range(400):
        config = space.sample(np.random.default_rng(seed), use_prior=use_prior)
        x = space.encode(config)
        assert x.shape == (space.n_dims,)
        assert np.all((x >= 0.0) & (x <= 1.0))
        _assert_same_config(space, space.decode(x), config)


def test_round_trip_holds_at_the_bounds() -> None:
    space = Space(
        {
            "lin": Float(-3.0, 7.0),
            "log": Float(1e-6, 1e3, log=True),
            "i": Int(-5, 5),
            "li": Int(1, 4096, log=True),
            "c": Categorical(["a", 1, 2.5, True, None]),
        }
    )
    for pick in (lambda p: p.lower, lambda p: p.upper):
        for choice in space.parameters["c"].choices:  # type: ignore[union-attr]
            config = {n: pick(p) for n, p in space.parameters.items() if n != "c"}
            config = {n: float(v) if not isinstance(space.parameters[n], Int) else v for n, v in config.items()}
            config["c"] = choice
            _assert_same_config(space, space.decode(space.encode(config)), config)


def test_every_integer_of_an_int_round_trips_exactly() -> None:
    for p in (Int(-7, 9), Int(1, 300, log=True), Int(0, 1)):
        space = Space({"n": p})
        for n in range(p.lower, p.upper + 1):  # type: ignore[arg-type]
            assert space.decode(space.encode({"n": n})) == {"n": n}


def test_inactive_parameters_encode_to_fixed_neutral_values() -> None:
    space = Space(
        {
            "opt": Categorical(["sgd", "adam"]),
            "momentum": Float(0.0, 1.0, when={"opt": ["sgd"]}),
            "steps": Int(1, 10, when={"opt": ["sgd"]}),
            "kind": Categorical(["x", "y", "z"], when={"opt": ["sgd"]}),
            "const": Constant(3),
            "epochs": Fidelity(1, 9),
        }
    )
    dims = {d.name: d for d in space.dimensions}
    assert set(dims) == {"opt", "momentum", "steps", "kind"}  # constants and the fidelity take no coordinate
    assert space.n_dims == 2 + 1 + 1 + 3
    x = space.encode({"opt": "adam", "const": 3})
    assert list(x[dims["opt"].start : dims["opt"].stop]) == [0.0, 1.0]  # one-hot
    assert x[dims["momentum"].start] == 0.5 and x[dims["steps"].start] == 0.5
    assert list(x[dims["kind"].start : dims["kind"].stop]) == [0.0, 0.0, 0.0]  # never looks like a choice
    # a value left over for an inactive parameter is ignored, not encoded
    assert np.array_equal(space.encode({"opt": "adam", "momentum": 0.9, "kind": "z"}), x)
    assert space.decode(x) == {"opt": "adam", "const": 3}


def test_inactive_encoding_in_the_nested_pipeline() -> None:
    space = pipeline_space()
    dims = {d.name: d for d in space.dimensions}
    for seed in range(100):
        config = space.sample(np.random.default_rng(seed))
        x = space.encode(config)
        for name, dim in dims.items():
            block = x[dim.start : dim.stop]
            if name in config:
                if dim.kind == "categorical":
                    assert block.sum() == 1.0 and set(block) <= {0.0, 1.0}
            elif dim.kind == "categorical":
                assert not block.any(), name
            else:
                assert block[0] == 0.5, name


def test_log_scale_encoding_is_linear_in_the_log() -> None:
    p = Float(1e-4, 1.0, log=True)
    assert p.to_unit(1e-4) == 0.0 and p.to_unit(1.0) == 1.0
    assert p.to_unit(1e-2) == pytest.approx(0.5)
    assert p.to_unit(1e-3) == pytest.approx(0.25)
    assert p.from_unit(0.75) == pytest.approx(1e-1)


def test_decode_of_any_point_is_a_valid_config_and_stable() -> None:
    space = pipeline_space()
    rng = np.random.default_rng(7)
    for _ in range(300):
        u = rng.random(space.n_dims)
        config = space.decode(u)
        assert space.validate(config) == config
        again = space.decode(space.encode(config))
        _assert_same_config(space, again, config)


def test_decode_clips_points_outside_the_cube() -> None:
    space = Space({"x": Float(0.0, 1.0), "n": Int(1, 3)})
    assert space.decode(np.array([-0.5, 7.0])) == {"x": 0.0, "n": 3}
    assert space.decode(np.array([1.5, -2.0])) == {"x": 1.0, "n": 1}


def test_decode_refuses_a_vector_of_the_wrong_length() -> None:
    space = Space({"x": Float(0.0, 1.0), "c": Categorical(["a", "b"])})
    with pytest.raises(SpaceError, match="3 coordinates"):
        space.decode(np.zeros(2))
    with pytest.raises(SpaceError, match="3 coordinates"):
        space.decode(np.zeros((1, 3)))


def test_encoding_accepts_numpy_values() -> None:
    space = Space({"x": Float(0.0, 2.0), "n": Int(0, 9), "c": Categorical(["a", "b"]), "flag": Categorical([True, False])})
    config = {"x": np.float32(0.5), "n": np.int64(4), "c": np.str_("b"), "flag": np.bool_(False)}
    assert space.decode(space.encode(config)) == {"x": 0.5, "n": 4, "c": "b", "flag": False}
