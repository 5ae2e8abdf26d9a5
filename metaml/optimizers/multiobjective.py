"""Multi-objective successive halving: rank a rung by Pareto fronts, then by hypervolume contribution.

Schedulers promote the "top 1/eta" of a rung; with several objectives "top" is a Pareto
ranking (as MO-ASHA, Schmucker et al. 2021, does with non-dominated sorting): the
non-dominated trials first, then the next front, and so on. Within a front, where
non-dominated sorting has no order, a trial that adds more hypervolume (moocore's
``hv_contributions`` against the rung's worst values plus 10%) goes first, so that a cut
through a front keeps its spread-out, most useful points rather than a crowded corner; ties
go to the older trial. Trials that break a limit come after every feasible trial (ordered
by how far they break their limits), and failed trials and trials without a finite result
last. With one objective this is exactly the single-objective ranking, so ``moasha`` and
``mohb`` then decide as ``asha`` and ``hyperband`` do.

``moasha`` and ``mohb`` are ASHA and Hyperband with this ranking plugged into the ``rank``
hook (which the samplers see too, so PriorBand's incumbent becomes a Pareto-best trial).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import moocore
import numpy as np

from metaml.core.records import TrialRecord, TrialStatus
from metaml.errors import OptimizerError
from metaml.objectives import Objective, pareto_ranks, reference_point
from metaml.optimizers.asha import ASHA
from metaml.optimizers.hyperband import Hyperband
from metaml.optimizers.multifidelity import SamplerSpec
from metaml.optimizers.rungs import rank_by_first_objective
from metaml.space import Space


def losses_of(record: TrialRecord, objectives: Sequence[Objective]) -> np.ndarray | None:
    """The record's losses (lower is better), or None when it failed or lacks a finite value."""
    if record.status in (TrialStatus.FAILED, TrialStatus.LOST):
        return None
    metrics = record.metrics or {}
    values = [metrics.get(o.name) for o in objectives]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None
    return np.array([o.sign * float(v) for o, v in zip(objectives, values)])  # type: ignore[arg-type]


def violation(losses: np.ndarray, objectives: Sequence[Objective]) -> float:
    """How far losses break the objectives' limits, each relative to its limit's size (0: feasible)."""
    total = 0.0
    for value, o in zip(losses, objectives):
        if o.limit is not None:
            bound = o.sign * o.limit
            total += max(0.0, float(value) - bound) / max(abs(bound), 1e-12)
    return total


def front_order(losses: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Row indices best first: by Pareto front, then by hypervolume contribution (largest first), then by index."""
    if len(losses) == 0:
        return np.zeros(0, dtype=int)
    ranks = pareto_ranks(losses)
    contribution = np.zeros(len(losses))
    for r in np.unique(ranks):
        members = np.flatnonzero(ranks == r)
        inside = members[np.all(losses[members] < ref, axis=1)]
        if len(inside) > 1:
            contribution[inside] = moocore.hv_contributions(losses[inside], ref=ref)
        elif len(inside) == 1:
            contribution[inside] = float(np.prod(ref - losses[inside[0]]))
    return np.lexsort((np.arange(len(losses)), -contribution, ranks))


def rank_pareto(records: Sequence[TrialRecord], objectives: Sequence[Objective]) -> list[TrialRecord]:
    """Records best first: feasible Pareto fronts (hypervolume contribution within a front), then
    limit breakers by how far they break them, then failures; ties go to the older trial."""
    if len(objectives) <= 1:
        return rank_by_first_objective(records, objectives)
    ordered = sorted(records, key=lambda t: t.number)
    scored = [(t, losses_of(t, objectives)) for t in ordered]
    valued = [(t, x) for t, x in scored if x is not None]
    failed = [t for t, x in scored if x is None]
    feasible = [(t, x) for t, x in valued if violation(x, objectives) == 0.0]
    breaking = [(t, x) for t, x in valued if violation(x, objectives) > 0.0]
    out: list[TrialRecord] = []
    if feasible:
        matrix = np.stack([x for _, x in feasible])
        unlimited = [Objective(o.name, o.goal) for o in objectives]  # the worst seen, not the limits
        ref = reference_point(unlimited, matrix)
        out.extend(feasible[i][0] for i in front_order(matrix, ref))
    out.extend(t for t, _ in sorted(breaking, key=lambda p: (violation(p[1], objectives), p[0].number)))
    out.extend(failed)
    return out


class MOASHA(ASHA):
    """ASHA promoting by Pareto rank and hypervolume contribution (MO-ASHA)."""

    name = "moasha"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        eta: float = 3,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        sampler: SamplerSpec = "auto",
        stopping: bool = False,
    ) -> None:
        if stopping:
            raise OptimizerError(
                "moasha promotes by Pareto rank; its stopping variant is not available (use asha with stopping: true)"
            )
        super().__init__(space, objectives, seed, eta, min_fidelity, max_fidelity, sampler, stopping)

    @property
    def first_objective_only(self) -> bool:
        return False

    def rank(self, records: Sequence[TrialRecord]) -> list[TrialRecord]:
        return rank_pareto(records, self.objectives)


class MOHB(Hyperband):
    """Hyperband whose brackets keep the Pareto-best 1/eta of each rung."""

    name = "mohb"

    @property
    def first_objective_only(self) -> bool:
        return False

    def rank(self, records: Sequence[TrialRecord]) -> list[TrialRecord]:
        return rank_pareto(records, self.objectives)


__all__ = ["MOASHA", "MOHB", "front_order", "rank_pareto"]
