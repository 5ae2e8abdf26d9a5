"""Warm start at the study level: what is read, frozen, refused and charged (``metaml.warm_start``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from metaml import Study
from metaml.core.records import TrialStatus
from metaml.errors import MetamlError
from metaml.space import Categorical, Fidelity, Float

SPACE = {"x": Float(0.0, 1.0), "kind": Categorical(["a", "b"]), "epochs": Fidelity(1, 9)}


def _train(config: dict[str, Any], trial: Any) -> dict[str, float]:
    return {"loss": (config["x"] - 0.7) ** 2 + (0.1 if config["kind"] == "b" else 0.0) + 1.0 / trial.fidelity}


def _earlier(tmp_path: Path, name: str = "earlier", goal: str = "min") -> Study:
    study = Study.create(name, SPACE, {"name": "loss", "goal": goal}, store=tmp_path / "s.db", optimizer="hyperband")
    study.optimize(_train, {"fte": 3})
    return study


def test_the_earlier_study_is_frozen_into_the_metadata_with_an_event_and_costs_nothing(tmp_path: Path) -> None:
    earlier = _earlier(tmp_path)
    space = {"x": Float(0.0, 0.5), "kind": Categorical(["a", "c"]), "epochs": Fidelity(1, 9)}
    study = Study.create("later", space, "loss", store=tmp_path / "s.db", optimizer="hyperband",
                         warm_start=[{"study": "earlier"}])
    [prior] = study.view().warm_start
    usable = [t for t in earlier.trials() if t.status is TrialStatus.COMPLETED and t.config["kind"] == "a"]
    assert prior.name == "earlier" and prior.uid == earlier.uid and len(prior.observations) == len(usable)
    assert prior.n_trials == len(earlier.trials()) and prior.cost_fte == pytest.approx(earlier.cost_fte())
    assert all(o.config["x"] <= 0.5 for o in prior.observations)  # clipped into this space
    assert any("clipped" in n for n in prior.notes) and any("refused" in n for n in prior.notes)
    assert study.metadata.warm_start is not None  # frozen: another process reads the same records
    assert Study.load("later", tmp_path / "s.db").view().warm_start == (prior,)
    [event] = study.events(["warm_start"])
    assert event.data["sources"][0]["observations"] == len(prior.observations)
    # nothing of the earlier study is a trial here: no cost, no front, no best
    assert study.trials() == [] and study.cost_fte() == 0.0 and study.pareto_front() == [] and study.best() is None


def test_a_loaded_study_and_another_store_are_accepted(tmp_path: Path) -> None:
    earlier = _earlier(tmp_path)
    a = Study.create("a", SPACE, "loss", store=tmp_path / "other.db", warm_start=[earlier])
    b = Study.create("b", SPACE, "loss", store=tmp_path / "other.db",
                     warm_start=[{"study": "earlier", "store": str(tmp_path / "s.db")}])
    assert a.view().warm_start[0].observations == b.view().warm_start[0].observations


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"study": "nope"}, "no study named 'nope'"),
        ({"study": "earlier", "store": "/nonexistent/folder/x.db"}, "cannot open its store"),
        ({"study": "earlier", "stor": "x"}, "unknown key"),
        ({"study": "earlier", "objectives": {"loss": "accuracy"}}, None),
    ],
)
def test_what_cannot_be_used_is_refused_at_creation_with_the_reason(tmp_path: Path, source: dict[str, Any],
                                                                     expected: str | None) -> None:
    _earlier(tmp_path)
    if expected is None:  # mapped to a metric it never recorded: nothing usable, and said
        study = Study.create("later", SPACE, "loss", store=tmp_path / "s.db", warm_start=[source])
        assert study.view().warm_start[0].observations == ()
        assert "no trial could be used" in study.view().warm_start[0].notes
        return
    with pytest.raises(MetamlError, match=expected):
        Study.create("later", SPACE, "loss", store=tmp_path / "s.db", warm_start=[source])
    assert "later" not in Study.load("earlier", tmp_path / "s.db").store.list_studies()  # nothing written


def test_a_space_without_a_shared_parameter_is_refused(tmp_path: Path) -> None:
    _earlier(tmp_path)
    with pytest.raises(MetamlError, match="shares no parameter"):
        Study.create("later", {"y": Float(0, 1)}, "loss", store=tmp_path / "s.db", warm_start=[{"study": "earlier"}])


def test_the_other_direction_is_refused_unless_mapped_and_then_read_negated(tmp_path: Path) -> None:
    _earlier(tmp_path, "score", goal="max")
    with pytest.raises(MetamlError, match="maximized there and minimized here"):
        Study.create("later", SPACE, "loss", store=tmp_path / "s.db", warm_start=[{"study": "score"}])
    study = Study.create("later", SPACE, "loss", store=tmp_path / "s.db",
                         warm_start=[{"study": "score", "objectives": {"loss": "loss"}}])
    earlier = Study.load("score", tmp_path / "s.db")
    done = {t.number: t.metrics["loss"] for t in earlier.trials() if t.status is TrialStatus.COMPLETED}  # type: ignore[index]
    assert {o.trial: o.loss for o in study.view().warm_start[0].observations} == {n: -v for n, v in done.items()}


def test_a_corrupted_row_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    earlier = _earlier(tmp_path)
    from sqlalchemy import text

    with earlier.store.engine.begin() as conn:  # a foreign writer left a metric that is not a number
        conn.execute(text("UPDATE trials SET metrics = '{\"loss\": \"oops\"}' WHERE number = 0"))
    with caplog.at_level(logging.WARNING):
        study = Study.create("later", SPACE, "loss", store=tmp_path / "s.db", warm_start=[{"study": "earlier"}])
    [prior] = study.view().warm_start
    assert 0 not in {o.trial for o in prior.observations} and any("skipped" in n for n in prior.notes)
    assert "trial 0 skipped" in caplog.text


def test_a_warm_started_run_pays_only_its_own_trials_and_resumes_with_the_same_sources(tmp_path: Path) -> None:
    _earlier(tmp_path)
    study = Study.create("later", SPACE, "loss", store=tmp_path / "s.db", optimizer={"name": "transfer", "base": "hyperband"},
                         warm_start=[{"study": "earlier"}])
    study.optimize(_train, {"fte": 2})
    trials = study.trials()
    assert study.cost_fte() == pytest.approx(sum(t.cost_fte for t in trials)) and study.cost_fte() <= 2 + 1e-9
    assert trials[0].info["transfer"]["method"] == "portfolio" and trials[0].imported is None
    again = Study.create("later", SPACE, "loss", store=tmp_path / "s.db", optimizer={"name": "transfer", "base": "hyperband"},
                         warm_start=[{"study": "earlier"}], load_if_exists=True)
    assert again.view().warm_start == study.view().warm_start
    with pytest.raises(MetamlError, match="warm-started from"):
        Study.create("later", SPACE, "loss", store=tmp_path / "s.db", optimizer={"name": "transfer", "base": "hyperband"},
                     load_if_exists=True, warm_start=[{"study": "later"}])


def test_auto_with_a_warm_start_picks_transfer(tmp_path: Path) -> None:
    _earlier(tmp_path)
    study = Study.create("later", SPACE, "loss", store=tmp_path / "s.db", optimizer="auto",
                         warm_start=[{"study": "earlier"}])
    assert study.record.optimizer_settings["chosen"] == "transfer"
    plain = Study.create("plain", SPACE, "loss", store=tmp_path / "s.db", optimizer="auto")
    assert plain.record.optimizer_settings["chosen"] != "transfer"
