"""The space as experts steer it: pins, narrowed ranges and priors applied, and what cannot apply refused in one line."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from metaml.core.interventions import Intervention
from metaml.errors import SpaceError
from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space
from metaml.space.steer import check, steer_space


def _space() -> Space:
    return Space({
        "optimizer": Categorical(["adam", "sgd"]),
        "momentum": Float(0.0, 0.99, when={"optimizer": ["sgd"]}),
        "lr": Float(1e-4, 1e-1, log=True, prior=1e-2),
        "depth": Int(1, 8),
        "model": Categorical({"mlp": {"width": Int(16, 256, log=True)}, "linear": {}}),
        "bias": Constant(True),
        "epochs": Fidelity(1, 27),
    })


def _apply(space: Space, *steps: tuple[str, str | None, Any]) -> list[Intervention]:
    done: list[Intervention] = []
    for action, target, value in steps:
        done.append(check(space, done, Intervention(action, target, value, "ann")))
    return done


def test_a_pinned_choice_leaves_one_choice_and_drops_what_only_the_others_switched_on() -> None:
    space = _space()
    steered = steer_space(space, _apply(space, ("pin", "optimizer", "adam")))
    assert steered.parameters["optimizer"] == Categorical(["adam"])
    assert "momentum" not in steered.parameters  # it needs sgd
    rng = np.random.default_rng(0)
    assert all(steered.sample(rng)["optimizer"] == "adam" for _ in range(50))
    assert steer_space(space, []) is space  # nothing steered: the study's own space


def test_a_pinned_number_is_a_constant_that_keeps_its_condition_and_text_is_read_as_a_number() -> None:
    space = _space()
    done = _apply(space, ("pin", "momentum", "0.9"), ("pin", "model.mlp.width", "64"))
    assert done[0].value == 0.9 and done[1].value == 64 and isinstance(done[1].value, int)
    steered = steer_space(space, done)
    assert steered.parameters["momentum"] == Constant(0.9, when={"optimizer": ["sgd"]})
    config = steered.validate({"optimizer": "sgd", "momentum": 0.9, "lr": 0.01, "depth": 2, "model": "mlp",
                               "model.mlp.width": 64, "bias": True})
    assert config["momentum"] == 0.9
    with pytest.raises(SpaceError):  # another momentum is outside the steered space
        steered.validate({**config, "momentum": 0.5})
    assert steered.validate({"optimizer": "adam", "lr": 0.01, "depth": 2, "model": "linear", "bias": True})


def test_unpin_restores_the_parameter_and_what_it_switched_on() -> None:
    space = _space()
    done = _apply(space, ("pin", "optimizer", "adam"), ("unpin", "optimizer", None))
    assert steer_space(space, done) == space


def test_narrow_shrinks_a_range_and_drops_a_prior_it_no_longer_holds() -> None:
    space = _space()
    done = _apply(space, ("narrow", "lr", ["1e-3", "5e-3"]), ("narrow", "depth", [2, 4]))
    assert done[0].value == [1e-3, 5e-3]
    lr, depth = steer_space(space, done).parameters["lr"], steer_space(space, done).parameters["depth"]
    assert isinstance(lr, Float) and (lr.lower, lr.upper, lr.log, lr.prior) == (1e-3, 5e-3, True, None)
    assert isinstance(depth, Int) and (depth.lower, depth.upper) == (2, 4)


def test_a_prior_is_set_with_its_confidence() -> None:
    space = _space()
    done = [check(space, [], Intervention("prior", "depth", "6", "ann", confidence="high"))]
    depth = steer_space(space, done).parameters["depth"]
    assert isinstance(depth, Int) and (depth.prior, depth.confidence) == (6, "high")
    done.append(check(space, done, Intervention("prior", "optimizer", "sgd", "ann")))
    opt = steer_space(space, done).parameters["optimizer"]
    assert isinstance(opt, Categorical) and opt.prior == "sgd"


@pytest.mark.parametrize(("steps", "wrong"), [
    ([("pin", "nope", 1)], "unknown parameter 'nope'"),
    ([("pin", "epochs", 3)], "fidelity"),
    ([("pin", "bias", False)], "constant"),
    ([("pin", "lr", 5)], "outside"),
    ([("pin", "optimizer", "rmsprop")], "not one of"),
    ([("pin", "depth", "2.5")], "whole"),
    ([("unpin", "lr", None)], "not pinned"),
    ([("pin", "optimizer", "adam"), ("pin", "momentum", 0.5)], "can no longer be active"),
    ([("pin", "model", "linear"), ("narrow", "model.mlp.width", [16, 32])], "can no longer be active"),
    ([("narrow", "lr", [1e-3, 1e-2]), ("narrow", "lr", [1e-4, 1e-2])], "widen"),
    ([("narrow", "lr", [1e-5, 1e-2])], "past the space"),
    ([("narrow", "lr", [1e-2, 1e-3])], "empty range"),
    ([("narrow", "depth", [3, 3])], "empty range"),
    ([("narrow", "optimizer", ["a", "b"])], "a choice"),
    ([("pin", "lr", 0.01), ("narrow", "lr", [1e-3, 1e-2])], "pinned"),
    ([("narrow", "lr", [1e-3, 1e-2]), ("prior", "lr", 0.05)], "outside"),
])
def test_what_cannot_apply_is_refused_with_one_line(steps: list[tuple[str, str | None, Any]], wrong: str) -> None:
    space = _space()
    *before, last = steps
    done = _apply(space, *before)
    with pytest.raises(SpaceError, match=wrong) as caught:
        check(space, done, Intervention(last[0], last[1], last[2], "ann"))
    assert "\n" not in str(caught.value)


def test_a_bad_confidence_is_refused() -> None:
    with pytest.raises(SpaceError, match="confidence"):
        check(_space(), [], Intervention("prior", "lr", 0.01, "ann", confidence="total"))
