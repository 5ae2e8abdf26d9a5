"""The inline executor: trials one after another in this process (the default, and for tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from metaml.budget import Budget
from metaml.execution.runner import TrialFunction
from metaml.execution.settings import ExecutionSettings
from metaml.execution.worker import work
from metaml.store.records import TrialRecord

if TYPE_CHECKING:
    from metaml.study import Study


def run_inline(
    study: Study,
    fn: TrialFunction,
    budget: Budget,
    *,
    settings: ExecutionSettings | None = None,
    on_trial: Callable[[TrialRecord], None] | None = None,
    worker: str | None = None,
) -> list[TrialRecord]:
    """Ask, run and tell in this process until the budget is spent."""
    settings = settings or ExecutionSettings()
    study.recover_lost(settings.stale_after, settings.retries)
    return work(study, fn, budget, settings, worker=worker, started=time.time(), on_trial=on_trial)
