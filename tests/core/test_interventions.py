"""Experts steer a study through events: each operation of the Python API, what it changes and what it refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from metaml import Categorical, Fidelity, Float, MetamlError, ObjectiveError, SpaceError, Study, TrialStatus
from metaml.core.interventions import INTERVENTION


def _create(url: str, tmp_path: Path, optimizer: str = "random", objectives: Any = ("loss", "size")) -> Study:
    space = {"opt": Categorical(["adam", "sgd"]), "momentum": Float(0.0, 0.99, when={"opt": ["sgd"]}),
             "lr": Float(1e-4, 1e-1, log=True), "epochs": Fidelity(1, 3)}
    return Study.create("s", space, list(objectives), store=url, optimizer=optimizer, seed=2,
                        artifacts=tmp_path / "artifacts")


def _train(config: dict[str, Any], trial: Any) -> dict[str, float]:
    loss = config["lr"] * (3.0 if config["opt"] == "sgd" else 1.0)
    return {"loss": loss, "size": 1.0 / config["lr"]}


def _count(study: Study) -> int:
    return len(study.events([INTERVENTION]))


@pytest.mark.parametrize("optimizer", ["random", "hyperband"])
def test_a_pin_and_a_range_hold_for_every_later_trial_and_are_logged(sqlite_url: str, tmp_path: Path,
                                                                     optimizer: str) -> None:
    study = _create(sqlite_url, tmp_path, optimizer)
    study.optimize(_train, 8)
    study.pin("opt", "adam", author="ann", reason="sgd diverged twice")
    study.narrow("lr", 1e-3, 1e-2, author="ann")
    study.optimize(_train, 20)
    later = study.trials()[8:]
    assert len(later) == 12
    assert all(t.config["opt"] == "adam" and "momentum" not in t.config for t in later)
    assert all(1e-3 <= t.config["lr"] <= 1e-2 for t in later)
    pin, narrow = study.interventions()
    assert (pin.action, pin.target, pin.value, pin.author, pin.reason) == ("pin", "opt", "adam", "ann", "sgd diverged twice")
    assert narrow.value == [1e-3, 1e-2]
    # another process (a fresh handle on the store) sees the same interventions and the same steered space
    again = Study.load("s", sqlite_url)
    assert again.interventions() == study.interventions()
    assert again.steered_space == study.steered_space and "momentum" not in again.steered_space.parameters


def test_another_handle_takes_a_pin_in_at_its_next_decision(sqlite_url: str, tmp_path: Path) -> None:
    runner = _create(sqlite_url, tmp_path)
    runner.optimize(_train, 4)
    running = runner.ask()  # a trial in flight while the expert pins: it is not disturbed
    assert running is not None
    Study.load("s", sqlite_url).pin("opt", "sgd", author="bob")
    runner.tell(running, _train(running.config, None))
    assert runner.store.trial(runner.id, running.number).status is TrialStatus.COMPLETED
    nxt = runner.ask()
    assert nxt is not None and nxt.config["opt"] == "sgd"


def test_unpin_searches_the_parameter_again(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    study.pin("opt", "adam")
    study.unpin("opt", reason="let it choose again")
    study.optimize(_train, 12)
    assert {t.config["opt"] for t in study.trials()} == {"adam", "sgd"}
    assert [i.action for i in study.interventions()] == ["pin", "unpin"]
    assert study.interventions()[0].author  # the login name when none is given


def test_a_prior_steers_a_prior_aware_optimizer(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path, "random")
    study.prior("opt", "sgd", "high", author="ann")
    assert study.steered_space.has_priors
    study.optimize(_train, 30)
    assert sum(t.config["opt"] == "sgd" for t in study.trials()) >= 20  # 90% mass on sgd


def test_a_limit_re_ranks_the_front_and_the_best_at_once(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    study.optimize(_train, 10)
    front = study.pareto_front()
    assert len(front) >= 2
    cut = sorted((t.metrics or {})["size"] for t in front)[len(front) // 2]
    study.limit("size", cut, op="<=", author="policy", reason="must fit on the device")
    assert study.objectives[1].limit == cut and study.base_objectives[1].limit is None
    kept = study.pareto_front()
    assert kept and all((t.metrics or {})["size"] <= cut for t in kept)
    best = study.best()
    assert best is not None and best in kept
    assert [t.number for t in Study.load("s", sqlite_url).pareto_front()] == [t.number for t in kept]
    study.limit("size", None, author="policy", reason="lifted")
    assert study.objectives[1].limit is None and len(study.pareto_front()) == len(front)


def test_notes_and_enqueues_are_interventions_with_their_author(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    study.optimize(_train, 2)
    study.note("looks like lr matters most", trial=1, author="auditor")
    queued = study.enqueue({"opt": "adam", "lr": 0.01}, author="ann", reason="the textbook default")
    note, enqueue = study.interventions()
    assert (note.action, note.trial, note.value, note.author) == ("note", 1, "looks like lr matters most", "auditor")
    assert (enqueue.action, enqueue.trial, enqueue.value) == ("enqueue", queued.number, {"opt": "adam", "lr": 0.01})
    study.enqueue({"opt": "adam", "lr": 0.02})  # without an author: a queued trial, no intervention
    assert _count(study) == 2


@pytest.mark.parametrize(("act", "wrong", "kind"), [
    (lambda s: s.pin("nope", 1), "unknown parameter", SpaceError),
    (lambda s: s.pin("lr", 3.0), "outside", SpaceError),
    (lambda s: s.narrow("lr", 1e-2, 1e-3), "empty range", SpaceError),
    (lambda s: s.narrow("lr", 1e-5, 1e-2), "past the space", SpaceError),
    (lambda s: s.limit("accuracy", 0.9), "unknown objective", ObjectiveError),
    (lambda s: s.limit("loss", 0.9, op=">="), "minimized", ObjectiveError),
    (lambda s: s.limit("loss", "soon"), "finite number", ObjectiveError),
    (lambda s: s.note("  "), "text", MetamlError),
    (lambda s: s.note("hi", trial=99), "no trial 99", MetamlError),
    (lambda s: s.prior("opt", "rmsprop"), "not one of", SpaceError),
])
def test_bad_input_is_refused_in_one_line_and_writes_nothing(sqlite_url: str, tmp_path: Path, act: Any, wrong: str,
                                                             kind: type[Exception]) -> None:
    study = _create(sqlite_url, tmp_path)
    study.optimize(_train, 1)
    events = len(study.events())
    with pytest.raises(kind, match=wrong) as caught:
        act(study)
    assert "\n" not in str(caught.value)
    assert len(study.events()) == events


def test_a_pin_that_leaves_the_optimizer_nothing_to_search_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    study = Study.create("bo", {"x": Float(0.0, 1.0)}, ["loss"], store=sqlite_url, optimizer="bo",
                         artifacts=tmp_path / "a")
    with pytest.raises(SpaceError, match="nothing it can run"):
        study.pin("x", 0.5)
    assert study.interventions() == ()


def test_a_configuration_the_pins_rule_out_is_not_queued(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    study.pin("opt", "adam")
    with pytest.raises(SpaceError, match="as steered so far"):
        study.enqueue({"opt": "sgd", "momentum": 0.5, "lr": 0.01}, author="ann")
    assert study.trials() == []
