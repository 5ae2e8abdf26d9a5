"""Pick the executor the settings ask for and run the study with it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from metaml.budget import Budget
from metaml.execution.inline import run_inline
from metaml.execution.local import FunctionRef, run_local
from metaml.execution.runner import TrialFunction
from metaml.execution.settings import ExecutionSettings
from metaml.store.records import TrialRecord

if TYPE_CHECKING:
    from metaml.study import Study


def execute(
    study: Study,
    fn: TrialFunction | FunctionRef,
    budget: Budget,
    settings: ExecutionSettings,
    *,
    on_trial: Callable[[TrialRecord], None] | None = None,
) -> list[TrialRecord]:
    """Run ``study`` under ``budget`` with the executor of ``settings``; return the trials that finished."""
    started = time.time()
    before = {t.number for t in study.trials() if t.status.finished}
    executor = settings.resolved_executor
    if executor == "inline":
        run_inline(study, fn.load() if isinstance(fn, FunctionRef) else fn, budget, settings=settings, on_trial=on_trial)
    else:
        ref = fn if isinstance(fn, FunctionRef) else FunctionRef.of(fn)
        if executor == "local":
            run_local(study, ref, budget, settings, on_trial=on_trial)
        else:
            from metaml.execution.ray_executor import run_ray

            run_ray(study, ref, budget, settings, on_trial=on_trial)
    study.record_reference()  # the decision log says where the hypervolume reference ended up, however it ran
    return [t for t in study.trials() if t.status.finished and t.number not in before and (t.ended_at or started) >= started]
