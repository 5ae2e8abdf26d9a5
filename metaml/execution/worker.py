"""The worker loop every executor runs: claim a trial, run it, report, until the budget is spent."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

from metaml.budget import Budget
from metaml.core.records import TrialRecord, TrialStatus
from metaml.execution.functions import TrialFunction
from metaml.execution.handle import StudyHandle
from metaml.execution.runner import run_trial
from metaml.execution.settings import ExecutionSettings

log = logging.getLogger(__name__)

#: Seconds a worker waits before asking again when the optimizer waits for running trials.
POLL_S = 0.2


def worker_id() -> str:
    """This process's name in the store: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def work(
    study: StudyHandle,
    fn: TrialFunction,
    budget: Budget,
    settings: ExecutionSettings | None = None,
    *,
    worker: str | None = None,
    started: float | None = None,
    on_trial: Callable[[TrialRecord], None] | None = None,
) -> list[TrialRecord]:
    """Run trials of ``study`` until its budget is spent and no trial is left in flight.

    A worker that finds nothing to do while other trials still run waits instead of
    leaving: if one of those workers dies, its trial comes back to the queue and is run here.
    """
    settings = settings or ExecutionSettings()
    worker = worker or worker_id()
    started = time.time() if started is None else started
    done: list[TrialRecord] = []
    last_recovery = 0.0
    while True:
        if budget.seconds is not None and time.time() - started >= budget.seconds:
            break
        if time.time() - last_recovery >= settings.heartbeat:
            study.recover_lost(settings.stale_after, settings.retries)
            last_recovery = time.time()
        trial = study.ask(worker, budget, max_failures=settings.failure_limit)
        if trial is None:
            in_flight = study.trials([TrialStatus.PENDING, TrialStatus.RUNNING])
            if not in_flight:
                break  # the budget is spent (or the optimizer has nothing left) and nobody is running
            time.sleep(POLL_S)
            continue
        trial.run_settings = settings.run_settings  # how it trains here: the execution settings, not the space
        record = run_trial(study, trial, fn, worker, heartbeat=settings.heartbeat)
        done.append(record)
        if on_trial is not None:
            on_trial(record)
    return done
