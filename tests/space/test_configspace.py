"""ConfigSpace in and out: round trips both ways (conditions, log scales, defaults, the fidelity) and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest

from metaml.errors import SpaceError
from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space

CS = pytest.importorskip("ConfigSpace")


def conditional_space() -> Space:
    return Space({
        "optimizer": Categorical(["sgd", "adam"], prior="adam", confidence="high"),
        "momentum": Float(0.5, 0.99, when={"optimizer": ["sgd"]}),
        "nesterov": Categorical([True, False], when={"optimizer": "sgd"}),
        "lr": Float(1e-4, 1e-1, log=True, prior=1e-3),
        "width": Int(16, 512, log=True),
        "depth": Int(1, 8),
        "dropout": Float(0.0, 0.5, when={"depth": [3, 4, 5, 6, 7, 8], "optimizer": ["sgd", "adam"]}),
        "seed_offset": Constant(3),
        "epochs": Fidelity(1, 27),
    })  # fmt: skip


def test_metaml_to_configspace_to_metaml_is_the_same_space() -> None:
    space = conditional_space()
    back = Space.from_configspace(space.to_configspace(seed=0))
    assert back == space
    assert back.conditions == space.conditions
    assert back.fidelity_name == "epochs" and back.fidelity == Fidelity(1, 27)


def test_configspace_to_metaml_to_configspace_is_the_same_configspace() -> None:
    cs = CS.ConfigurationSpace(seed=1)
    kind = CS.Categorical("kind", ["a", "b", "c"], default="b")
    x = CS.Float("x", (1e-5, 1.0), log=True)
    n = CS.Integer("n", (2, 64), log=True, default=8)
    y = CS.Float("y", (-1.0, 1.0))
    k = CS.Constant("k", "fixed")
    cs.add([kind, x, n, y, k])
    cs.add([CS.InCondition(x, kind, ["a", "c"]), CS.AndConjunction(CS.EqualsCondition(y, kind, "b"), CS.InCondition(y, n, [2, 3]))])
    back = Space.from_configspace(cs).to_configspace(seed=1)
    assert back == cs
    assert Space.from_configspace(cs).parameters["kind"] == Categorical(["a", "b", "c"], prior="b")


def test_nested_choices_come_back_flat_with_the_same_parameters_and_conditions() -> None:
    space = Space({"backbone": Categorical({"mlp": {"depth": Int(1, 4)}, "cnn": {"k": Categorical([3, 5])}})})
    back = Space.from_configspace(space.to_configspace())
    assert back.parameters == space.parameters or set(back.parameters) == set(space.parameters)
    assert back.conditions == space.conditions
    rng = np.random.default_rng(0)
    for _ in range(20):
        config = space.sample(rng)
        assert back.validate(config) == config


def _random_space(rng: np.random.Generator) -> Space:
    params: dict = {}
    for i in range(int(rng.integers(2, 7))):
        kind = rng.choice(["float", "int", "cat"])
        when = None
        cats = [n for n, p in params.items() if isinstance(p, Categorical)]
        if cats and rng.random() < 0.5:
            parent = cats[int(rng.integers(len(cats)))]
            choices = list(params[parent].choices)
            when = {parent: choices[: int(rng.integers(1, len(choices) + 1))]}
        log = bool(rng.random() < 0.5)
        if kind == "float":
            # ConfigSpace keeps 13 significant digits of a float bound: draw bounds it holds exactly
            lo = round(float(rng.uniform(1e-4, 1.0)), 6)
            params[f"p{i}"] = Float(lo, round(lo * float(rng.uniform(2, 100)), 6), log=log, when=when)
        elif kind == "int":
            lo = int(rng.integers(1, 10))
            params[f"p{i}"] = Int(lo, lo + int(rng.integers(1, 100)), log=log, when=when)
        else:
            choices = [f"c{j}" for j in range(int(rng.integers(2, 5)))]
            prior = choices[-1] if rng.random() < 0.3 else None
            params[f"p{i}"] = Categorical(choices, prior=prior, when=when)
    if rng.random() < 0.5:
        params["fid"] = Fidelity(1, int(rng.integers(2, 100)))
    return Space(params)


@pytest.mark.parametrize("seed", range(8))
def test_random_spaces_round_trip_both_ways(seed: int) -> None:
    space = _random_space(np.random.default_rng(seed))
    cs = space.to_configspace(seed=seed)
    assert Space.from_configspace(cs) == space
    assert Space.from_configspace(cs).to_configspace(seed=seed) == cs


def test_fidelity_can_be_left_out_for_peers_that_take_it_as_a_budget() -> None:
    cs = conditional_space().to_configspace(fidelity=False)
    assert "epochs" not in list(cs.keys())
    assert Space.from_configspace(cs).fidelity is None


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda cs, a, b: cs.add(CS.ForbiddenEqualsClause(a, "z")), "forbidden"),
        (lambda cs, a, b: cs.add(CS.OrConjunction(CS.EqualsCondition(b, a, "x"), CS.EqualsCondition(b, a, "y"))), "OrConjunction"),
        (lambda cs, a, b: cs.add(CS.NotEqualsCondition(b, a, "x")), "NotEqualsCondition"),
    ],
)
def test_what_metaml_cannot_express_is_refused_by_name(build, named: str) -> None:
    cs = CS.ConfigurationSpace()
    a, b = CS.Categorical("a", ["x", "y", "z"]), CS.Float("b", (0.0, 1.0))
    cs.add([a, b])
    build(cs, a, b)
    with pytest.raises(SpaceError, match=named):
        Space.from_configspace(cs)


@pytest.mark.parametrize(
    ("hp", "named"),
    [
        (lambda: CS.OrdinalHyperparameter("o", ["low", "mid", "high"]), "OrdinalHyperparameter"),
        (lambda: CS.Float("f", (0.0, 1.0), distribution=CS.Normal(0.5, 0.1)), "NormalFloatHyperparameter"),
        (lambda: CS.Categorical("c", ["a", "b"], weights=[0.9, 0.1]), "weights"),
    ],
)
def test_hyperparameters_without_a_metaml_form_are_refused_by_name(hp, named: str) -> None:
    cs = CS.ConfigurationSpace()
    cs.add(hp())
    with pytest.raises(SpaceError, match=named):
        Space.from_configspace(cs)


def test_a_missing_configspace_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from metaml.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "ConfigSpace", None)  # what an import of a package not installed meets
    with pytest.raises(MissingExtraError, match=r"pip install 'metaml\[configspace\]'"):
        conditional_space().to_configspace()
