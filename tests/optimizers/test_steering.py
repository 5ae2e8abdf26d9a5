"""Which objectives steer an optimizer, and the warning a multi-objective study gets when only the first does."""

from __future__ import annotations

import pytest

from metaml.objectives import Objective
from metaml.optimizers import Optimizer, available, make_optimizer
from metaml.optimizers.steering import single_objective_warning
from metaml.space import Fidelity, Float, Int, Space

SPACE = Space({"x": Float(0.0, 1.0, schedulable=True), "y": Float(0.0, 1.0), "epochs": Fidelity(1, 9)})
TWO = (Objective("val_error"), Objective("parity", limit=0.15))
THREE = (*TWO, Objective("latency_ms"))
#: Schedulers that promote (or pick an incumbent) on the first objective alone.
FIRST_ONLY = {"successive_halving", "hyperband", "asha", "priorband", "bohb", "pbt", "pb2", "transfer"}
#: oneshot needs an architecture choice to relax: the same space with one.
WITH_DEPTH = Space({"x": Float(0.0, 1.0), "depth": Int(1, 4), "epochs": Fidelity(1, 9)})


def make(name: str, objectives: tuple[Objective, ...]) -> Optimizer:
    if name == "oneshot":
        return make_optimizer({"name": "oneshot", "architecture": ["depth"]}, WITH_DEPTH, objectives)
    return make_optimizer(name, SPACE, objectives)


@pytest.mark.parametrize("name", available())
def test_every_optimizer_says_whether_only_the_first_objective_steers_it(name: str) -> None:
    optimizer = make(name, TWO)
    assert optimizer.first_objective_only is (name in FIRST_ONLY)


@pytest.mark.parametrize("name", sorted(FIRST_ONLY))
def test_a_multi_objective_study_on_a_first_objective_scheduler_is_warned(name: str) -> None:
    warning = single_objective_warning(make(name, THREE))
    assert warning is not None
    # it names the objectives that never steer, and not the one that does as one of them
    assert "parity" in warning and "latency_ms" in warning
    assert "moasha" in warning  # and what to use instead


@pytest.mark.parametrize("name", sorted(set(available()) - FIRST_ONLY))
def test_pareto_aware_and_objective_blind_optimizers_are_not_warned(name: str) -> None:
    assert single_objective_warning(make(name, TWO)) is None


@pytest.mark.parametrize("name", available())
def test_a_single_objective_study_is_never_warned(name: str) -> None:
    assert single_objective_warning(make(name, TWO[:1])) is None


def test_oneshot_is_judged_by_its_outer_search_not_its_fallback() -> None:
    # the default then, one_epoch, ranks on the Pareto front; bohb (the fallback) runs only when the one-shot fails
    assert single_objective_warning(make("oneshot", TWO)) is None
    on_bohb = make_optimizer({"name": "oneshot", "architecture": ["depth"], "then": "bohb"}, WITH_DEPTH, TWO)
    warning = single_objective_warning(on_bohb)
    assert warning is not None and "parity" in warning


def test_auto_is_judged_by_the_optimizer_it_runs() -> None:
    picked = make_optimizer("auto", SPACE, TWO)  # moasha for a fidelity and two objectives
    assert single_objective_warning(picked) is None
    stored = make_optimizer({"name": "auto", "chosen": "priorband"}, SPACE, TWO)  # a choice kept in the store
    warning = single_objective_warning(stored)
    assert warning is not None and "parity" in warning
