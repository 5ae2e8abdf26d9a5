"""What a study has spent and promised to spend, and whether one more trial fits its budget.

The budget rule (docs/concepts.md, "Budgets are strict"): a new trial starts only if its
planned cost fits in what the budget leaves after the FTE already charged and the planned
cost of every trial still running or queued. Decisions are made under the store's lock, so
N workers together never promise more than the budget; a trial that trains past its plan
(e.g. its checkpoint went missing) is cut when the study reaches the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from metaml.budget import Budget
from metaml.core.records import Proposal, TrialRecord, TrialStatus

#: Slack for float sums of FTE (a third of 1/27 is not exactly representable).
EPSILON_FTE = 1e-9


def planned_cost(
    fidelity: float | None, continue_from: int | None, history: Sequence[TrialRecord], fte_per_step: float | None
) -> float:
    """FTE a trial at ``fidelity`` is expected to cost: its steps past the checkpoint it continues."""
    if fte_per_step is None or fidelity is None:
        return 1.0
    base = 0.0
    if continue_from is not None:
        parent = next((t for t in history if t.number == continue_from), None)
        if parent is not None:
            base = parent.end_step if parent.end_step is not None else (parent.fidelity or 0.0)
    return max(0.0, float(fidelity) - base) * fte_per_step


def own_trials(history: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The trials this study ran itself: imported ones (``TrialRecord.imported``) were paid for elsewhere."""
    return [t for t in history if t.imported is None]


def committed_fte(history: Sequence[TrialRecord], fte_per_step: float | None) -> float:
    """FTE charged so far plus the planned cost of every trial still running or queued (imported ones cost 0)."""
    total = 0.0
    for t in own_trials(history):
        total += t.cost_fte
        if t.status in (TrialStatus.RUNNING, TrialStatus.PENDING):
            total += planned_cost(t.fidelity, t.continue_from, history, fte_per_step)
    return total


@dataclass(frozen=True)
class Admission:
    """Whether a proposal may start now, and why not."""

    admitted: bool
    reason: str = ""


def admit(
    proposal: Proposal, history: Sequence[TrialRecord], budget: Budget | None, fte_per_step: float | None
) -> Admission:
    """Whether ``proposal`` fits the budget's trials and FTE given everything spent and promised."""
    if budget is None:
        return Admission(True)
    if budget.trials is not None and len(own_trials(history)) >= budget.trials:
        return Admission(False, f"the budget of {budget.trials} trials is used")
    if budget.fte is None:
        return Admission(True)
    cost = planned_cost(proposal.fidelity, proposal.continue_from, history, fte_per_step)
    promised = committed_fte(history, fte_per_step)
    if promised + cost > budget.fte + EPSILON_FTE:
        return Admission(
            False,
            f"the next trial would cost {cost:.3g} FTE and {promised:.3g} of the {budget.fte:g} FTE budget are "
            "spent or promised to running trials",
        )
    return Admission(True)


def budget_left(history: Sequence[TrialRecord], budget: Budget, fte_per_step: float | None) -> bool:
    """Whether any new trial could still start under the budget's trials and FTE (a cheap upper bound)."""
    if budget.trials is not None and len(own_trials(history)) >= budget.trials:
        return False
    return budget.fte is None or committed_fte(history, fte_per_step) < budget.fte - EPSILON_FTE


def consecutive_failures(history: Sequence[TrialRecord]) -> int:
    """How many trials failed in a row, most recent first, since the last one that did not."""
    finished = sorted(
        (t for t in history if t.status.finished and t.status is not TrialStatus.LOST),
        key=lambda t: (t.ended_at or 0.0, t.number),
    )
    count = 0
    for t in reversed(finished):
        if t.status is not TrialStatus.FAILED:
            break
        count += 1
    return count
