"""The inline executor: trials one after another in this process (the default, and for tests)."""

from __future__ import annotations

import time
from typing import ClassVar

from metaml.budget import Budget
from metaml.core.records import TrialRecord
from metaml.execution.base import Executor, OnTrial, finished_numbers, finished_since
from metaml.execution.functions import FunctionRef, TrialFunction
from metaml.execution.handle import StudyHandle
from metaml.execution.settings import ExecutionSettings
from metaml.execution.worker import work


class InlineExecutor(Executor):
    """Runs trials in this process: it has no process to kill, so it refuses a timeout or memory limit."""

    name: ClassVar[str] = "inline"
    enforces: ClassVar[frozenset[str]] = frozenset()
    cannot_enforce_because: ClassVar[str] = (
        "a trial running in this process cannot be stopped at its limit without stopping the run"
    )
    instead: ClassVar[str] = (
        "use executor local or auto (--executor local), which runs trials in worker processes it can "
        "kill and limit, or remove the setting"
    )

    def launch(
        self,
        study: StudyHandle,
        fn: TrialFunction | FunctionRef,
        budget: Budget,
        settings: ExecutionSettings,
        on_trial: OnTrial | None,
    ) -> list[TrialRecord]:
        return run_inline(study, fn.load() if isinstance(fn, FunctionRef) else fn, budget, settings=settings, on_trial=on_trial)


def run_inline(
    study: StudyHandle,
    fn: TrialFunction,
    budget: Budget,
    *,
    settings: ExecutionSettings | None = None,
    on_trial: OnTrial | None = None,
    worker: str | None = None,
) -> list[TrialRecord]:
    """Ask, run and tell in this process until the budget is spent; return the trials that finished meanwhile."""
    settings = settings or ExecutionSettings()
    InlineExecutor().check(settings)
    before = finished_numbers(study)
    study.recover_lost(settings.stale_after, settings.retries)
    work(study, fn, budget, settings, worker=worker, started=time.time(), on_trial=on_trial)
    return finished_since(study, before)
