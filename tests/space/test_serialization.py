"""A space survives JSON (the store) and YAML (study files) exactly: equal, and sampling the same configs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space

from ._spaces import PIPELINE_YAML, pipeline_space


def _through_json(space: Space) -> Space:
    return Space.from_dict(json.loads(json.dumps(space.to_dict())))


def test_json_round_trip_is_exact() -> None:
    space = pipeline_space()
    again = _through_json(space)
    assert again == space
    assert hash(again) == hash(space)
    assert again.to_dict() == space.to_dict()
    assert again.order == space.order and again.n_dims == space.n_dims
    assert again.conditions == space.conditions
    assert again.fidelity == space.fidelity
    assert _through_json(again).to_dict() == space.to_dict()  # a fixed point


@pytest.mark.parametrize("use_prior", [False, True], ids=["uniform", "prior"])
def test_a_stored_space_samples_the_same_configs(use_prior: bool) -> None:
    space = pipeline_space()
    again = _through_json(space)
    for seed in range(200):
        a = space.sample(np.random.default_rng(seed), use_prior=use_prior)
        b = again.sample(np.random.default_rng(seed), use_prior=use_prior)
        assert a == b and [type(v) for v in a.values()] == [type(v) for v in b.values()]
        assert np.array_equal(space.encode(a), again.encode(b))


def test_yaml_declaration_equals_the_python_one() -> None:
    data = yaml.safe_load(PIPELINE_YAML)
    assert isinstance(data["lr"]["lower"], str)  # PyYAML reads 1e-4 as a string: the space must not mind
    from_yaml = Space.from_dict(data)
    assert from_yaml == pipeline_space()
    for seed in range(50):
        assert from_yaml.sample(np.random.default_rng(seed), True) == pipeline_space().sample(np.random.default_rng(seed), True)


def test_yaml_style_numbers_in_strings_are_numbers() -> None:
    data = {
        "lr": {"type": "float", "lower": "1e-4", "upper": "1e-1", "log": True, "prior": "3e-3", "confidence": "high"},
        "units": {"type": "int", "lower": "8", "upper": "1e3"},
        "epochs": {"type": "fidelity", "lower": "1", "upper": "2.7e1"},
    }
    space = Space.from_dict(data)
    assert space == Space(
        {
            "lr": Float(1e-4, 1e-1, log=True, prior=3e-3, confidence="high"),
            "units": Int(8, 1000),
            "epochs": Fidelity(1, 27),
        }
    )
    assert type(space.parameters["units"].upper) is int  # type: ignore[union-attr]
    # choices stay as written: "1e-4" as a choice is a string
    assert Space.from_dict({"c": {"type": "categorical", "choices": ["1e-4", "x"]}}).parameters["c"].choices == ("1e-4", "x")  # type: ignore[union-attr]


def test_to_dict_is_plain_json_even_from_numpy_values() -> None:
    space = Space(
        {
            "x": Float(np.float32(0.5), np.float64(2.0), prior=np.float32(1.0)),
            "n": Int(np.int64(1), np.int32(9)),
            "c": Categorical([np.float64(0.5), 1], prior=np.int64(1)),
            "s": Categorical(["a", "b"], prior=np.str_("b"), when={"c": [np.float64(0.5)]}),
            "k": Constant((np.int64(3), "a")),
            "e": Fidelity(np.int64(1), np.int64(9)),
        }
    )
    text = json.dumps(space.to_dict())  # no TypeError
    assert Space.from_dict(json.loads(text)) == space


def test_constant_tuples_survive_the_store() -> None:
    space = Space({"betas": Constant((0.9, 0.999)), "lr": Float(1e-3, 1e-1, log=True)})
    again = _through_json(space)
    assert again == space
    config = again.sample(np.random.default_rng(0))
    assert space.validate(config)["betas"] == (0.9, 0.999)


def test_conditions_survive_the_round_trip() -> None:
    space = Space(
        {
            "opt": Categorical(["sgd", "adam"]),
            "momentum": Float(0.0, 1.0, when={"opt": "sgd"}),  # one value, not a list
            "flag": Categorical([True, False], when={"opt": ("sgd", "adam")}),
            "k": Constant(None, when={"flag": [False]}),
        }
    )
    again = _through_json(space)
    assert again == space and again.conditions == space.conditions
    assert again.conditions["k"] == {"flag": (False,)}


def test_equality_sees_every_difference() -> None:
    base = pipeline_space().to_dict()
    variants = []
    for path, value in [
        (("lr", "upper"), 0.2),
        (("lr", "confidence"), "low"),
        (("depth", "upper"), 5),
        (("optimizer", "choices", "adam", "beta1", "lower"), 0.85),
        (("backbone", "choices", "resnet", "norm", "choices", "batch", "momentum", "upper"), 0.4),
        (("augment", "prior"), "mixup"),
        (("mixup_alpha", "when"), {"augment": ["flip", "mixup"]}),
        (("seed", "value"), 1),
        (("epochs", "upper"), 81),
    ]:
        data = json.loads(json.dumps(base))
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        variants.append(Space.from_dict(data))
    for v in variants:
        assert v != pipeline_space()
    # parameters compare their sub-spaces too
    assert Categorical({"a": {"x": Float(0.0, 1.0)}}) != Categorical({"a": {"x": Float(0.0, 2.0)}})
    assert Categorical({"a": {"x": Float(0.0, 1.0)}}) == Categorical({"a": {"x": Float(0.0, 1.0)}})
