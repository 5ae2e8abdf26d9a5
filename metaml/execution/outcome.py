"""Why a run ended: its budget spent, the study complete, or something that needs the user.

A run ends with success only when the budget is spent or the optimizer has nothing left to
propose; anything else (the failure policy stopped it, trials are still queued because
workers kept dying) is said, and ``metaml run`` exits non-zero.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from metaml.budget import Budget
from metaml.core.records import TrialStatus
from metaml.execution.handle import StudyHandle
from metaml.execution.settings import ExecutionSettings
from metaml.spending import EPSILON_FTE, admit, committed_fte, consecutive_failures, own_trials


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: ``complete`` when the budget is spent or nothing is left to try."""

    complete: bool
    reason: str
    #: The traceback of the first failed trial, when the run stopped for failures and nothing completed.
    first_traceback: str | None = None


def run_outcome(study: StudyHandle, budget: Budget, settings: ExecutionSettings, started: float) -> RunOutcome:
    """Read from the store why the run that started at ``started`` ended."""
    trials = study.trials()
    completed = [t for t in trials if t.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED)]
    limit = settings.failure_limit
    failures = consecutive_failures(trials)
    if limit is not None and failures >= limit:
        failed = [t for t in trials if t.status is TrialStatus.FAILED]
        policy = "fail_fast" if settings.fail_fast else f"max_failures: {limit}"
        last = failed[-1] if failed else None
        reason = (
            f"stopped after {failures} failed trials in a row ({policy}); the last, trial "
            f"{last.number if last else '?'}, failed with: {last.error if last else '?'}"
        )
        first = None if completed else next((t.traceback or t.error for t in failed), None)
        return RunOutcome(False, reason, first)
    in_flight = [t.number for t in trials if t.status in (TrialStatus.PENDING, TrialStatus.RUNNING)]
    if in_flight:
        return RunOutcome(
            False,
            f"{len(in_flight)} trials are still queued or running (trials {in_flight[:10]}): run the same "
            "command again to finish them",
        )
    if budget.seconds is not None and time.time() - started >= budget.seconds - 1e-6:
        return RunOutcome(True, f"the time budget of {budget.seconds:g} s is spent")
    if budget.trials is not None and len(own_trials(trials)) >= budget.trials:
        return RunOutcome(True, f"the budget of {budget.trials} trials is spent")
    spent = sum(t.cost_fte for t in trials)
    if budget.fte is not None and committed_fte(trials, study.fte_per_step) >= budget.fte - EPSILON_FTE:
        return RunOutcome(True, f"the budget is spent: {spent:.3f} of {budget.fte:g} FTE")
    proposal = study.optimizer.decide(study.view())  # as the experts steered it, like every decision
    if proposal is None:
        return RunOutcome(True, f"the optimizer {study.optimizer.name} has nothing left to propose ({spent:.3f} FTE spent)")
    admission = admit(proposal, trials, budget, study.fte_per_step)
    if not admission.admitted:
        return RunOutcome(True, f"the budget is spent: {admission.reason}; {spent:.3f} FTE charged")
    return RunOutcome(False, f"the run stopped with budget left ({spent:.3f} FTE charged)")
