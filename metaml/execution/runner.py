"""Running one trial: call the user's function, keep its heartbeat, and record what happened."""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Mapping
from typing import Any

from metaml.core.records import TrialRecord, TrialStatus
from metaml.errors import BudgetSpentError, ClaimLostError
from metaml.execution.functions import TrialFunction
from metaml.execution.handle import StudyHandle
from metaml.trial import Trial

log = logging.getLogger(__name__)

#: Seconds between two heartbeats of a running trial.
HEARTBEAT_INTERVAL_S = 5.0

__all__ = ["HEARTBEAT_INTERVAL_S", "Heartbeat", "TrialFunction", "call_trial_function", "run_trial"]


class Heartbeat:
    """A daemon thread that tells the store, every few seconds, that a trial is still running."""

    def __init__(self, trial: Trial, worker: str, interval: float = HEARTBEAT_INTERVAL_S) -> None:
        self._trial, self._worker, self._interval = trial, worker, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{trial.number}", daemon=True)

    def _beat(self) -> None:
        study = self._trial.study
        while not self._stop.wait(self._interval):
            try:
                if not study.store.heartbeat(study.id, self._trial.number, self._worker, self._trial.attempt):
                    # The trial was taken from us (requeued, failed at its timeout): the run's
                    # next report or checkpoint raises ClaimLostError and it stops.
                    self._trial.claim_lost = True
                    return
            except Exception as exc:  # a missed beat is not worth killing the trial for
                log.warning("heartbeat of trial %s failed: %s", self._trial.number, exc)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 1)


def call_trial_function(fn: TrialFunction, trial: Trial) -> Mapping[str, Any]:
    """Call ``fn(config, trial)``, or ``fn(config)`` when it takes one argument."""
    try:
        params = [
            p for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        params = []
    if len(params) == 1 and params[0].kind is not params[0].VAR_POSITIONAL:
        return fn(trial.config)
    return fn(trial.config, trial)


def run_trial(
    study: StudyHandle, trial: Trial, fn: TrialFunction, worker: str, heartbeat: float = HEARTBEAT_INTERVAL_S
) -> TrialRecord:
    """Run one trial ``study`` handed out to its end and record it; only Ctrl-C escapes (after requeueing it)."""
    try:
        with Heartbeat(trial, worker, heartbeat):
            metrics = call_trial_function(fn, trial)
    except KeyboardInterrupt:
        study.requeue(trial, "interrupted (Ctrl-C or SIGTERM); returned to the queue")
        raise
    except ClaimLostError as exc:
        log.warning("%s", exc)
        return study.store.trial(study.id, trial.number)
    except BudgetSpentError as exc:
        log.warning("%s", exc)
        study.store.finish(study.id, trial.number, TrialStatus.LOST, error=str(exc), attempt=trial.attempt)
        return study.store.trial(study.id, trial.number)
    except SystemExit as exc:
        # sys.exit() inside a trial would end the worker as if all were well: record it instead
        return study.tell(trial, error=f"the trial function called sys.exit({exc.code!r})")
    except MemoryError as exc:
        return study.tell(trial, error=f"out of memory: {exc or 'MemoryError'} (config {trial.config})")
    except Exception as exc:
        if "out of memory" in str(exc).lower():
            return study.tell(trial, error=f"out of memory: {exc} (config {trial.config})")
        return study.tell(trial, error=exc)
    if trial.claim_lost:
        log.warning("trial %s finished after this worker lost its claim; its result is not recorded", trial.number)
        return study.store.trial(study.id, trial.number)
    return study.tell(trial, metrics)
