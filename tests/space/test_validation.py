"""Validation: a config outside the space, or a malformed space, gets a SpaceError that names the parameter."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from metaml.errors import MetamlError, SpaceError
from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space

from ._spaces import pipeline_space


def _valid() -> dict:
    return {
        "lr": 1e-3,
        "batch_size": 64,
        "depth": 2,
        "dropout": 0.1,
        "weight_decay": 0.0,
        "optimizer": "sgd",
        "optimizer.sgd.momentum": 0.9,
        "optimizer.sgd.schedule": "step",
        "optimizer.sgd.gamma": 0.5,
        "backbone": "resnet",
        "backbone.resnet.blocks": 2,
        "backbone.resnet.norm": "batch",
        "backbone.resnet.norm.batch.momentum": 0.1,
        "backbone.resnet.norm.batch.affine": True,
        "augment": "mixup",
        "mixup_alpha": 0.2,
        "seed": 0,
        "label_smoothing": 0.1,
    }


def _problem(config: dict, space: Space | None = None) -> str:
    space = space or pipeline_space()
    before = copy.deepcopy(config)
    with pytest.raises(SpaceError) as info:
        space.validate(config)
    assert config == before  # bad input changes nothing
    assert isinstance(info.value, MetamlError) and isinstance(info.value, ValueError)
    return str(info.value)


def test_a_valid_config_passes_and_is_normalized() -> None:
    space = pipeline_space()
    config = _valid()
    assert space.validate(config) == config
    loose = {**config, "batch_size": 64.0, "depth": np.int64(2), "dropout": np.float32(0.25), "weight_decay": 0}
    out = space.validate(loose)
    assert type(out["batch_size"]) is int and out["batch_size"] == 64
    assert type(out["depth"]) is int and type(out["dropout"]) is float and type(out["weight_decay"]) is float
    # an omitted constant is filled in; the order of the keys does not matter
    del loose["seed"]
    assert space.validate(dict(reversed(list(loose.items()))))["seed"] == 0


@pytest.mark.parametrize(
    "change,names,words",
    [
        ({"lr": None}, ["lr"], "missing"),
        ({"backbone.resnet.norm.batch.momentum": None}, ["backbone.resnet.norm.batch.momentum"], "missing"),
        ({"bogus": 1}, ["bogus"], "not a parameter"),
        ({"backbone.mlp.width": 64}, ["backbone.mlp.width"], "inactive"),
        ({"optimizer.adam.beta1": 0.9}, ["optimizer.adam.beta1"], "inactive"),
        ({"lr": 10.0}, ["lr"], "outside"),
        ({"lr": 0.0}, ["lr"], "outside"),
        ({"lr": float("nan")}, ["lr"], "outside"),
        ({"depth": 0}, ["depth"], "outside"),
        ({"backbone.resnet.norm.batch.momentum": 0.9}, ["backbone.resnet.norm.batch.momentum"], "outside"),
        ({"lr": "0.001"}, ["lr"], "number"),
        ({"lr": True}, ["lr"], "number"),
        ({"depth": 2.5}, ["depth"], "whole number"),
        ({"depth": "2"}, ["depth"], "number"),
        ({"optimizer": "rmsprop"}, ["optimizer"], "not one of"),
        ({"backbone.resnet.norm.batch.affine": 1}, ["backbone.resnet.norm.batch.affine"], "not one of"),
        ({"augment": None}, ["augment"], "missing"),
        ({"epochs": 3}, ["epochs"], "fidelity"),
        ({"seed": 1}, ["seed"], "constant"),
        ({"label_smoothing": 0.2}, ["label_smoothing"], "constant"),
    ],
)
def test_each_problem_is_named(change: dict, names: list[str], words: str) -> None:
    config = _valid()
    for name, value in change.items():
        if value is None and name in config:
            del config[name]
        else:
            config[name] = value
    message = _problem(config)
    for name in names:
        assert repr(name) in message, message
    assert words in message, message


def test_every_problem_is_reported_at_once() -> None:
    config = {**_valid(), "lr": 5.0, "bogus": 1, "epochs": 2, "seed": 9}
    del config["depth"]
    message = _problem(config)
    for part in ("'lr'", "'bogus'", "'epochs'", "'seed'", "'depth' is missing"):
        assert part in message, message


def test_an_unknown_name_lists_the_known_ones() -> None:
    message = _problem({**_valid(), "learning_rate": 0.1})
    assert "'learning_rate'" in message and "lr" in message and "backbone.resnet.blocks" in message


def test_inactive_message_says_what_switches_it_on() -> None:
    config = {**_valid(), "augment": "flip"}
    message = _problem(config)
    assert "'mixup_alpha'" in message and "augment in ['mixup']" in message


def test_a_config_must_be_a_mapping() -> None:
    with pytest.raises(SpaceError, match="mapping"):
        pipeline_space().validate([("lr", 0.1)])  # type: ignore[arg-type]


def test_constant_given_with_the_right_value_or_omitted_is_fine() -> None:
    space = Space({"betas": Constant((0.9, 0.999)), "x": Float(0.0, 1.0)})
    assert space.validate({"x": 0.5}) == {"betas": (0.9, 0.999), "x": 0.5}
    assert space.validate({"x": 0.5, "betas": (0.9, 0.999)})["betas"] == (0.9, 0.999)
    assert space.validate({"x": 0.5, "betas": [0.9, 0.999]})["betas"] == (0.9, 0.999)  # as it comes back from JSON
    assert "'betas'" in _problem({"x": 0.5, "betas": (0.9, 0.99)}, space)
    flag = Space({"flag": Constant(True)})
    assert "'flag'" in _problem({"flag": 1}, flag)  # a boolean constant is not the number 1


def test_categorical_values_keep_their_type() -> None:
    space = Space({"c": Categorical([1, "1", True, None, 2.5])})
    for value, index in [(1, 0), (1.0, 0), (np.int64(1), 0), ("1", 1), (np.str_("1"), 1), (True, 2), (np.bool_(True), 2), (None, 3), (2.5, 4)]:
        out = space.validate({"c": value})["c"]
        assert out == space.parameters["c"].choices[index] and type(out) is type(space.parameters["c"].choices[index])  # type: ignore[union-attr]
    for wrong in (0, False, "True", 2, "2.5"):
        assert "'c'" in _problem({"c": wrong}, space)


# --------------------------------------------------------------------- malformed spaces
@pytest.mark.parametrize(
    "make,pattern",
    [
        (lambda: Float(1.0, 1.0), "lower .* below upper"),
        (lambda: Float(2.0, 1.0), "lower .* below upper"),
        (lambda: Int(5, 5), "lower .* below upper"),
        (lambda: Float(0.0, 1.0, log=True), "log"),
        (lambda: Float(-1.0, 1.0, log=True), "log"),
        (lambda: Int(0, 10, log=True), "log"),
        (lambda: Float("0", 1.0), "numbers"),
        (lambda: Float(0.0, None), "numbers"),
        (lambda: Float(True, 3.0), "numbers"),
        (lambda: Float(0.0, float("inf")), "finite"),
        (lambda: Float(float("nan"), 1.0), "finite"),
        (lambda: Int(0, float("inf")), "whole number"),
        (lambda: Int(0.5, 3), "whole number"),
        (lambda: Float(0.0, 1.0, prior=2.0), "prior 2.0 lies outside"),
        (lambda: Float(1e-4, 1.0, log=True, prior=1e-5), "prior"),
        (lambda: Int(1, 10, prior=11), "prior 11 lies outside"),
        (lambda: Int(1, 10, prior=2.5), "prior 2.5 .*whole number"),
        (lambda: Float(0.0, 1.0, prior="0.5"), "prior"),
        (lambda: Categorical(["a", "b"], prior="c"), "prior 'c'"),
        (lambda: Float(0.0, 1.0, prior=0.5, confidence="very high"), "confidence"),
        (lambda: Categorical(["a", "b"], prior="a", confidence=0.9), "confidence"),
        (lambda: Categorical([]), "non-empty"),
        (lambda: Categorical("ab"), "non-empty list"),
        (lambda: Categorical(["a", "a"]), "repeat"),
        (lambda: Categorical([1, 1.0]), "repeat"),
        (lambda: Categorical([[1], [2]]), "a choice must be"),
        (lambda: Categorical([float("nan"), 1.0]), "finite"),
        (lambda: Categorical({1: {"x": Float(0.0, 1.0)}, 2: None}), "must be a string"),
        (lambda: Categorical({True: {"x": Float(0.0, 1.0)}, False: {}}), "'true' in quotes"),
        (lambda: Constant(object()), "plain data"),
        (lambda: Constant(float("nan")), "plain data"),
        (lambda: Fidelity(0, 10), "0 < lower"),
        (lambda: Fidelity(10, 5), "lower <= upper"),
        (lambda: Fidelity(1, float("inf")), "finite"),
        (lambda: Fidelity("1", 5), "numbers"),
        (lambda: Float(0.0, 1.0, when={}), "when"),
        (lambda: Float(0.0, 1.0, when=["opt"]), "when"),
    ],
)
def test_malformed_parameters_are_refused(make, pattern: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpaceError, match=pattern):
        make()


@pytest.mark.parametrize(
    "params,pattern,names",
    [
        ({"x": Float(0.0, 1.0, when={"ghost": ["a"]})}, "does not have", ["x", "ghost"]),
        (
            {"opt": Categorical({"sgd": {"m": Float(0.0, 1.0, when={"ghost": [1]})}})},
            "does not have",
            ["opt.sgd.m", "ghost"],
        ),
        ({"opt": Categorical(["sgd", "adam"]), "m": Float(0.0, 1.0, when={"opt": ["rmsprop"]})}, "cannot take", ["m", "opt", "rmsprop"]),
        ({"n": Int(1, 4), "m": Float(0.0, 1.0, when={"n": [7]})}, "cannot take", ["m", "n"]),
        ({"n": Int(1, 4), "m": Float(0.0, 1.0, when={"n": [1.5]})}, "cannot take", ["m", "n"]),
        (
            {
                "a": Categorical(["x", "y"], when={"b": ["x"]}),
                "b": Categorical(["x", "y"], when={"a": ["y"]}),
            },
            "cycle",
            ["a", "b"],
        ),
        (
            {
                "a": Categorical(["x", "y"], when={"c": ["x"]}),
                "b": Categorical(["x", "y"], when={"a": ["x"]}),
                "c": Categorical(["x", "y"], when={"b": ["x"]}),
            },
            "cycle",
            ["a", "b", "c"],
        ),
        ({"a": Categorical(["x", "y"], when={"a": ["x"]})}, "cycle", ["a"]),
        ({"e": Fidelity(1, 9), "f": Fidelity(1, 3)}, "one fidelity", ["e", "f"]),
        ({"opt": Categorical({"sgd": {"epochs": Fidelity(1, 9)}, "adam": None})}, "top level", ["opt.sgd.epochs"]),
        ({"e": Fidelity(1, 9), "m": Float(0.0, 1.0, when={"e": [3]})}, "fidelity", ["m", "e"]),
        ({"x": 0.5}, "expected Float", ["x"]),
        ({"opt": Categorical({"sgd": {"m": "fast"}})}, "expected Float", ["opt.sgd.m"]),
        ({"a": Categorical({"b": {"c": Float(0.0, 1.0)}}), "a.b.c": Float(0.0, 1.0)}, "declared twice", ["a.b.c"]),
    ],
)
def test_malformed_spaces_are_refused_naming_the_parameters(params: dict, pattern: str, names: list[str]) -> None:
    with pytest.raises(SpaceError, match=pattern) as info:
        Space(params)
    for name in names:
        assert name in str(info.value), str(info.value)


def test_a_space_must_be_a_mapping() -> None:
    with pytest.raises(SpaceError, match="mapping"):
        Space([Float(0.0, 1.0)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data,where",
    [
        ({"lr": {"type": "float", "lower": "abc", "upper": 1}}, "space.lr.lower"),
        ({"lr": {"type": "float", "lower": "nan", "upper": 1}}, "space.lr.lower"),
        ({"lr": {"type": "float", "lower": 1, "upper": 0.5}}, "space.lr"),
        ({"lr": {"type": "floaty", "lower": 0, "upper": 1}}, "space.lr"),
        ({"lr": {"lower": 0, "upper": 1}}, "space.lr"),
        ({"lr": {"type": "float", "lower": 0, "upper": 1, "step": 0.1}}, "space.lr"),
        ({"lr": {"type": "float", "upper": 1}}, "space.lr"),
        ({"lr": [0, 1]}, "space.lr"),
        ({"opt": {"type": "categorical", "choices": {"sgd": {"m": {"type": "float", "lower": 2, "upper": 1}}}}}, "space.opt.sgd.m"),
        ({"opt": {"type": "categorical", "choices": {"sgd": {"m": {"type": "float", "lower": 0, "upper": 1, "log": True}}}}}, "space.opt.sgd.m"),
        ({"opt": {"type": "categorical", "choices": ["a"], "prior": "b"}}, "space.opt"),
        ({"opt": {"type": "categorical"}}, "space.opt"),
        ({"x": {"type": "float", "lower": 0, "upper": 1, "prior": 0.5, "confidence": "sure"}}, "space.x"),
        ({"x": {"type": "fidelity", "lower": 0, "upper": 1}}, "space.x"),
    ],
)
def test_malformed_space_data_names_the_field(data: dict, where: str) -> None:
    with pytest.raises(SpaceError) as info:
        Space.from_dict(data)
    assert re.search(re.escape(where) + r"\b", str(info.value)), str(info.value)
