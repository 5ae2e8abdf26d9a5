"""What a study's trials add up to: its final trials, Pareto front, best, cost and hypervolume.

One set of pure functions over a picture of the study (a tuple of trial records), so that
``Study``, the CLI and the report answer from the same rules and can never disagree; none
of them reads or writes a store. ``Study.results()`` builds one from the study's view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from metaml.core.records import TrialRecord, TrialStatus
from metaml.errors import ObjectiveError
from metaml.objectives import (
    Objective,
    Reference,
    best_row,
    hypervolume,
    hypervolume_reference,
    nondominated,
    to_loss_matrix,
)


def is_final(trial: TrialRecord, objectives: Sequence[Objective], full_fidelity: float | None) -> bool:
    """Whether a trial counts for the front: completed at the full fidelity, with every objective reported."""
    if trial.status is not TrialStatus.COMPLETED or not trial.metrics or trial.is_supernet:
        return False  # a supernet's metrics are its derived network's, not its configuration's
    if full_fidelity is not None and (trial.fidelity is None or trial.fidelity < full_fidelity):
        return False
    return all(trial.metrics.get(o.name) is not None for o in objectives)


def is_feasible(trial: TrialRecord, objectives: Sequence[Objective]) -> bool:
    """Whether a trial's metrics respect every objective's limit (a missing value respects none)."""
    metrics = trial.metrics or {}
    return all(o.name in metrics and o.feasible(metrics[o.name]) for o in objectives)


def front_of(trials: Sequence[TrialRecord], objectives: Sequence[Objective]) -> list[TrialRecord]:
    """The non-dominated trials among ``trials`` that respect every limit, in their order."""
    feasible = [t for t in trials if is_feasible(t, objectives)]
    if not feasible:
        return []
    mask = nondominated(to_loss_matrix(objectives, [t.metrics or {} for t in feasible]))
    return [t for t, keep in zip(feasible, mask) if keep]


@dataclass(frozen=True, eq=False)
class StudyResults:
    """The answers of one picture of a study; each is computed once, on first use."""

    trials: tuple[TrialRecord, ...]
    objectives: tuple[Objective, ...]
    full_fidelity: float | None

    @cached_property
    def final(self) -> list[TrialRecord]:
        """Completed trials at full fidelity that report every objective (what the front is made of)."""
        return [t for t in self.trials if is_final(t, self.objectives, self.full_fidelity)]

    @cached_property
    def front(self) -> list[TrialRecord]:
        """Non-dominated final trials that respect every limit."""
        return front_of(self.final, self.objectives)

    def best(self, objective: str | None = None) -> TrialRecord | None:
        """The front member best on ``objective`` (the first by default), or None without a front.

        Always a member of the front: trials that tie on the objective go to the one better
        on the others (in their order), then to the earlier trial.
        """
        names = [o.name for o in self.objectives]
        name = names[0] if objective is None else objective
        if name not in names:
            raise ObjectiveError(f"no objective named {objective!r}; objectives: {names}")
        front = self.front
        index = best_row(to_loss_matrix(self.objectives, [t.metrics or {} for t in front]), names.index(name))
        return None if index is None else front[index]

    @cached_property
    def reference(self) -> Reference:
        """The hypervolume reference point and how it moved, from the feasible final results in the order they finished.

        The limits where given; else fixed by the first full-fidelity result and widened
        whenever a later front member lies outside it (``metaml.objectives.hypervolume_reference``).
        """
        results = sorted((t for t in self.final if is_feasible(t, self.objectives)),
                         key=lambda t: (t.ended_at or 0.0, t.number))
        losses = to_loss_matrix(self.objectives, [t.metrics or {} for t in results])
        return hypervolume_reference(self.objectives, losses, [t.number for t in results])

    @cached_property
    def hypervolume(self) -> float:
        """Hypervolume of the front against the reference point (0 without a front)."""
        point = self.reference.array()
        if not self.front or point is None:
            return 0.0
        return hypervolume(to_loss_matrix(self.objectives, [t.metrics or {} for t in self.front]), point)

    @cached_property
    def cost_fte(self) -> float:
        """Every FTE charged to the study's trials, whatever became of them."""
        return math.fsum(t.cost_fte for t in self.trials)

    def front_note(self) -> str | None:
        """Why the front is empty, in words, or None when it is not."""
        if self.front:
            return None
        if not self.final:
            return "no trial has completed at full fidelity yet"
        return f"none of the {len(self.final)} full-fidelity trials respects every limit yet"
