"""Hyperband and ASHA through the real API: store, inline executor, checkpoints and FTE cost."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from metaml import Fidelity, Float, Space, Study, Trial, TrialStatus
from metaml.core.view import StudyView


def train(config: dict[str, Any], trial: Trial) -> dict[str, float]:
    """Trains only the epochs the checkpoint it continues lacks (a fidelity is a prefix of the run)."""
    start = trial.restore()
    loss = float("nan")
    for epoch in range(int(start) + 1, int(trial.fidelity) + 1):
        loss = (config["x"] - 0.3) ** 2 + 1.0 / epoch
        trial.report(epoch, loss=loss)
    trial.checkpoint(trial.fidelity)
    return {"loss": loss}


@pytest.mark.parametrize("optimizer", [{"name": "hyperband", "eta": 3}, {"name": "asha", "eta": 3}])
def test_promotions_continue_their_parent_and_pay_only_the_extra_epochs(tmp_path, optimizer) -> None:
    space = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 9)})
    study = Study.create("mf", space, "loss", store=tmp_path / "s.db", optimizer=optimizer, seed=1)
    study.optimize(train, budget={"fte": 5})

    trials = {t.number: t for t in study.trials()}
    assert all(t.status is TrialStatus.COMPLETED for t in trials.values())
    promoted = [t for t in trials.values() if t.continue_from is not None]
    assert promoted, "no trial was promoted"
    for t in trials.values():
        assert t.fidelity in (1, 3, 9)
        start = 0.0 if t.continue_from is None else trials[t.continue_from].fidelity
        assert t.cost_fte == pytest.approx((t.fidelity - start) / 9)
    for t in promoted:
        parent = trials[t.continue_from]
        assert parent.config == t.config and parent.fidelity < t.fidelity
        assert t.info["config_id"] == parent.info["config_id"] and t.info["rung"] == parent.info["rung"] + 1
    assert 4 < study.cost_fte() <= 5 + 1e-9  # strict: it stops when the next trial (at most 1 FTE) no longer fits
    assert study.best() is not None and study.best().fidelity == 9

    reasons = [e.message for e in study.store.events(study.id, ["proposal"])]
    assert any(r.startswith("promoted from rung 1 epochs to 3 epochs") for r in reasons)

    # Resuming from the store rebuilds an optimizer that makes the same next decision.
    again = Study.load("mf", store=tmp_path / "s.db")
    history = again.trials()
    assert again.optimizer.propose(StudyView.of(history)) == study.optimizer.propose(StudyView.of(history))


def test_hyperband_fills_its_first_bracket_as_li_et_al(tmp_path) -> None:
    space = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 9)})
    study = Study.create("hb", space, "loss", store=tmp_path / "s.db", optimizer="hyperband")
    study.optimize(train, budget={"trials": 13})
    per_rung = Counter((t.info["bracket"], t.fidelity) for t in study.trials())
    assert per_rung == {(0, 1): 9, (0, 3): 3, (0, 9): 1}
    assert study.cost_fte() == pytest.approx((9 * 1 + 3 * 2 + 1 * 6) / 9)


def train_and_listen(config: dict[str, Any], trial: Trial) -> dict[str, float]:
    """Trains to the fidelity unless the scheduler says stop after an epoch."""
    loss = float("nan")
    for epoch in range(1, int(trial.fidelity) + 1):
        loss = (config["x"] - 0.3) ** 2 + 1.0 / epoch
        trial.report(epoch, loss=loss)
        if trial.should_stop():
            break
    return {"loss": loss}


def run_stopping_study(tmp_path) -> Study:
    space = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 9)})
    study = Study.create("stop", space, "loss", store=tmp_path / "s.db", optimizer={"name": "asha", "stopping": True})
    study.optimize(train_and_listen, budget={"trials": 15})
    return study


def test_the_stopping_variant_stops_trials_once_the_study_shares_other_curves(tmp_path, monkeypatch) -> None:
    """The wiring ASHA's stopping variant needs: the other trials' learning curves (see asha.should_stop)."""

    def should_stop(self: Study, trial: Trial) -> str | None:
        history = self.store.trials(self.id)
        observations = self.store.observations(self.id)
        current = next(t for t in history if t.number == trial.number)
        return self.optimizer.should_stop(StudyView.of(history, observations), current)

    monkeypatch.setattr(Study, "should_stop", should_stop)
    study = run_stopping_study(tmp_path)
    pruned = [t for t in study.trials() if t.status is TrialStatus.PRUNED]
    assert len(pruned) >= 5
    assert all(t.end_step in (1, 3) and t.cost_fte == pytest.approx(t.end_step / 9) for t in pruned)
    assert study.best() is not None


def test_the_stopping_variant_stops_trials_through_the_plain_api(tmp_path) -> None:
    study = run_stopping_study(tmp_path)
    assert any(t.status is TrialStatus.PRUNED for t in study.trials())
