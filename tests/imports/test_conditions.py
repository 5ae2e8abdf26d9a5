"""The conditions inferred for parameters set in some trials only: by a choice, by an integer threshold, or refused."""

from __future__ import annotations

import pytest

from metaml.errors import SpaceError
from metaml.imports.conditions import infer_conditions
from metaml.space import Categorical, Float, Int

PARAMS = {
    "optimizer": Categorical(["sgd", "adam", "rmsprop"]),
    "n_layers": Int(1, 5),
    "momentum": Float(0.0, 1.0),
    "width_3": Int(8, 64),
    "lr": Float(1e-4, 1e-1, log=True),
}


def test_a_choice_and_an_integer_threshold_explain_the_missing_parameters() -> None:
    configs = [
        {"optimizer": "sgd", "n_layers": 1, "momentum": 0.9, "lr": 0.01},
        {"optimizer": "adam", "n_layers": 3, "width_3": 16, "lr": 0.01},
        {"optimizer": "rmsprop", "n_layers": 4, "momentum": 0.5, "width_3": 32, "lr": 0.01},
        {"optimizer": "adam", "n_layers": 2, "lr": 0.001},
    ]
    when = infer_conditions(PARAMS, configs, "test")
    assert when == {"momentum": {"optimizer": ["sgd", "rmsprop"]}, "width_3": {"n_layers": [3, 4, 5]}}


def test_a_parameter_nothing_explains_is_refused_by_name() -> None:
    configs = [{"optimizer": "sgd", "n_layers": 1, "lr": 0.1, "momentum": 0.9}, {"optimizer": "sgd", "n_layers": 1, "lr": 0.1}]
    with pytest.raises(SpaceError, match="'momentum' is set in 1 of 2 trials"):
        infer_conditions(PARAMS, configs, "test")
