"""The Ray executor: each worker is a Ray task with the trial resources the study asks for.

Ray tasks run the same worker loop as local processes and talk to the same store, so
claims stay atomic and a task that dies loses at most its running trial, which returns to
the queue. Ray is an optional extra: ``pip install 'metaml[ray]'``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

from metaml.budget import Budget
from metaml.core.records import TrialRecord, TrialStatus
from metaml.errors import MetamlError
from metaml.execution.base import Executor, finished_numbers, finished_since
from metaml.execution.functions import FunctionRef, TrialFunction
from metaml.execution.handle import StudyHandle
from metaml.execution.local import study_opener, worker_main
from metaml.execution.settings import ExecutionSettings

log = logging.getLogger(__name__)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MetamlError(
            "the Ray executor needs Ray: pip install 'metaml[ray]' (or pip install ray), "
            "or run with --executor local"
        ) from None
    return ray


def run_ray(
    study: StudyHandle,
    fn_ref: FunctionRef,
    budget: Budget,
    settings: ExecutionSettings,
    *,
    on_trial: Callable[[TrialRecord], None] | None = None,
) -> list[TrialRecord]:
    """Run the study as ``settings.workers`` Ray tasks, on ``settings.ray_address`` or a local Ray.

    Returns the trials that finished meanwhile (``finished_since``), as every executor does.
    """
    RayExecutor().check(settings)  # refused before Ray starts and before the store is touched
    ray = _import_ray()
    before = finished_numbers(study)
    started_here = False
    if not ray.is_initialized():
        try:
            ray.init(address=settings.ray_address, include_dashboard=False, log_to_driver=True, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError) as exc:
            raise MetamlError(f"cannot start or reach Ray at {settings.ray_address or 'a new local instance'}: {exc}") from None
        started_here = True
    study.recover_lost(settings.stale_after, settings.retries)
    remote = ray.remote(num_cpus=settings.cpus, num_gpus=settings.ray_gpus, max_retries=0)(worker_main)
    started = time.time()

    def submit() -> Any:
        return remote.remote(study_opener(study), fn_ref, budget, settings, started)

    pending = [submit() for _ in range(settings.workers)]
    seen = {t.number for t in study.trials() if t.status.finished}
    resubmits_left = 10 * settings.workers
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for t in study.trials():
                if t.status.finished and t.number not in seen:
                    seen.add(t.number)
                    if on_trial is not None:
                        on_trial(t)
            for ref in ready:
                try:
                    ray.get(ref)
                except Exception as exc:  # the task died: its trial comes back through its heartbeat
                    study.log_event("worker_died", f"Ray worker task failed: {type(exc).__name__}: {exc}")
                    study.recover_lost(settings.stale_after, settings.retries)
                    if resubmits_left > 0 and _in_flight_or_left(study, budget, started):
                        resubmits_left -= 1
                        pending.append(submit())
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        study.recover_lost(settings.stale_after, settings.retries)
        raise
    finally:
        if started_here:
            ray.shutdown()
    return finished_since(study, before)


class RayExecutor(Executor):
    """``run_ray`` behind the executor contract: it refuses both limits."""

    name: ClassVar[str] = "ray"
    enforces: ClassVar[frozenset[str]] = frozenset()
    cannot_enforce_because: ClassVar[str] = "a Ray task cannot be killed at a trial's limit without losing its worker"
    instead: ClassVar[str] = (
        "use --executor local, or 'metaml worker' on each machine (both enforce them), or remove the setting"
    )

    def launch(
        self,
        study: StudyHandle,
        fn: TrialFunction | FunctionRef,
        budget: Budget,
        settings: ExecutionSettings,
        on_trial: Callable[[TrialRecord], None] | None,
    ) -> list[TrialRecord]:
        ref = fn if isinstance(fn, FunctionRef) else FunctionRef.of(fn)
        return run_ray(study, ref, budget, settings, on_trial=on_trial)


def _in_flight_or_left(study: StudyHandle, budget: Budget, started: float) -> bool:
    from metaml.spending import budget_left

    if budget.seconds is not None and time.time() - started >= budget.seconds:
        return False
    trials = study.trials()
    return any(t.status in (TrialStatus.PENDING, TrialStatus.RUNNING) for t in trials) or budget_left(trials, budget, study.fte_per_step)
