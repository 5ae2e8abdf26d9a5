"""A retried run must fit in what the budget leaves after its lost runs were charged (found by benchmarks.chaos).

A lost run is charged for the steps it reported; the retry restores the trial's checkpoint, which
may lie a step or more behind (a worker killed between a report and its checkpoint). Retrying
every such trial in full took a 2 FTE chaos study to 2.11 FTE (seed 0 of its quick settings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from metaml import Budget, Fidelity, Float, Space, Study, TrialStatus

FIDELITY = 9


def _study(tmp_path: Path) -> Study:
    space = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, FIDELITY)})
    return Study.create("retry", space, ["loss"], store=tmp_path / "study.db", optimizer="random", seed=0)


def _train(config: dict, trial: Any) -> dict:
    """Restores, then reports and checkpoints every epoch (as the built-in pipelines do)."""
    w = torch.nn.Linear(1, 1)
    start = trial.restore(model=w)
    for epoch in range(start, int(trial.fidelity)):
        trial.report(epoch + 1, loss=config["x"] + 1.0 / (epoch + 1))
        trial.checkpoint(epoch + 1, model=w)
    return {"loss": config["x"]}


def _lose_a_run_after(study: Study, budget: Budget, reported: int, checkpointed: int) -> int:
    """Claim a trial and lose its run after ``reported`` epochs with a checkpoint at ``checkpointed``."""
    trial = study.ask(budget=budget)
    assert trial is not None
    w = torch.nn.Linear(1, 1)
    trial.restore(model=w)
    for step in range(1, reported + 1):
        trial.report(step, loss=1.0)
        if step <= checkpointed:
            trial.checkpoint(step, model=w)
    study.store.requeue(study.id, trial.number, "lost", count_retry=True, fte_per_step=study.fte_per_step,
                        attempt=trial.attempt)
    return trial.number


def test_a_retry_that_no_longer_fits_ends_lost_and_the_budget_holds(tmp_path: Path) -> None:
    study = _study(tmp_path)
    budget = Budget(fte=1.0)  # one full run: the lost run's charge leaves no room to retrain its lost epoch
    number = _lose_a_run_after(study, budget, reported=5, checkpointed=4)
    study.optimize(_train, budget)
    trial = study.store.trial(study.id, number)
    assert sum(t.cost_fte for t in study.trials()) <= budget.fte + 1e-9
    assert trial.status is TrialStatus.LOST
    assert "budget" in (trial.error or "")


def test_a_retry_that_fits_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    study = _study(tmp_path)
    budget = Budget(fte=1.0)
    number = _lose_a_run_after(study, budget, reported=4, checkpointed=4)
    study.optimize(_train, budget)
    trial = study.store.trial(study.id, number)
    assert trial.status is TrialStatus.COMPLETED
    assert abs(trial.cost_fte - 1.0) < 1e-9  # 4 epochs lost and charged, 5 trained on resume
    assert sum(t.cost_fte for t in study.trials()) <= budget.fte + 1e-9
