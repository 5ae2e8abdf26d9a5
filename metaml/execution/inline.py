"""The inline executor: trials one after another in this process (the default, and for tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from metaml.budget import Budget
from metaml.execution.runner import TrialFunction, run_trial
from metaml.store.records import TrialRecord, TrialStatus

if TYPE_CHECKING:
    from metaml.study import Study


def budget_left(study: Study, budget: Budget, started: float) -> bool:
    """Whether the study may start another trial under ``budget`` (trials and FTE count the whole study)."""
    if budget.seconds is not None and time.time() - started >= budget.seconds:
        return False
    trials = study.trials()
    if budget.trials is not None:
        if len(trials) >= budget.trials:  # every trial counts, queued and running ones included
            return False
    if budget.fte is not None and sum(t.cost_fte for t in trials) >= budget.fte:
        return False
    return True


def run_inline(
    study: Study,
    fn: TrialFunction,
    budget: Budget,
    *,
    on_trial: Callable[[TrialRecord], None] | None = None,
    worker: str | None = None,
) -> list[TrialRecord]:
    """Ask, run and tell until the budget is spent or the optimizer has nothing left to propose."""
    from metaml.study import worker_id

    worker = worker or worker_id()
    study.recover_lost()
    started = time.time()
    done: list[TrialRecord] = []
    while True:
        pending = study.trials([TrialStatus.PENDING])
        if not pending and not budget_left(study, budget, started):
            break
        if pending and budget.seconds is not None and time.time() - started >= budget.seconds:
            break
        trial = study.ask(worker)
        if trial is None:
            break
        record = run_trial(trial, fn, worker)
        done.append(record)
        if on_trial is not None:
            on_trial(record)
    return done
