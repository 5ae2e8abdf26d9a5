"""Rung arithmetic and bookkeeping shared by the multi-fidelity schedulers.

A *ladder* is the increasing tuple of fidelities a configuration can be trained to:
``r_max, r_max/eta, r_max/eta**2, ... >= r_min`` read from the bottom up. A *bracket* (Li et
al., 2017) starts ``n`` configurations at one rung of the ladder and keeps the best
``1/eta`` of them at each rung above. Schedulers keep no state of their own: which bracket
and rung a trial belongs to is written in its ``info`` (the keys below) and read back from
the history on every ``ask``, so that a study resumed from its store decides the same.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from metaml.core.records import TrialRecord, TrialStatus
from metaml.objectives import Objective

#: The ``info`` keys a scheduler writes on each trial it proposes.
BRACKET, RUNG, CONFIG_ID = "bracket", "rung", "config_id"

# Float slack for ``log`` and products of ``eta``: 4/3 * 9 must give 12 configurations, not 13.
_EPS = 1e-9


def halvings(r_min: float, r_max: float, eta: float) -> int:
    """How many times ``r_max`` can be divided by ``eta`` without going below ``r_min``."""
    return int(math.floor(math.log(r_max / r_min) / math.log(eta) + _EPS))


def fidelity_ladder(r_min: float, r_max: float, eta: float, integer: bool) -> tuple[float, ...]:
    """The rung fidelities from ``r_min`` (or just above it) up to ``r_max``, geometric from the top.

    Integer fidelities are rounded half up; with ``eta >= 2`` and ``r_min >= 1`` two rungs are
    at least one unit apart, so rounding keeps them distinct and increasing.
    """
    s_max = halvings(r_min, r_max, eta)
    values: list[float] = [r_max / eta ** (s_max - i) for i in range(s_max + 1)]
    if integer:
        values = [int(math.floor(v + 0.5)) for v in values]
        values[-1] = int(r_max)
    else:
        values[-1] = r_max
    values[0] = max(values[0], r_min)  # never below r_min because of float noise
    return tuple(values)


@dataclass(frozen=True)
class BracketPlan:
    """One successive-halving bracket: where it starts on the ladder and how many configs each rung holds."""

    halvings: int
    base: int
    counts: tuple[int, ...]

    @property
    def top(self) -> int:
        return self.base + self.halvings

    @property
    def rungs(self) -> range:
        """Ladder indices of the bracket's rungs, bottom up."""
        return range(self.base, self.top + 1)

    def count(self, rung: int) -> int:
        """How many configurations the rung at ladder index ``rung`` holds."""
        return self.counts[rung - self.base]


def hyperband_brackets(s_max: int, eta: float) -> tuple[BracketPlan, ...]:
    """The brackets of one Hyperband iteration, most exploratory first (Li et al. 2017, Algorithm 1).

    Bracket ``s`` starts ``n = ceil((s_max + 1) / (s + 1) * eta**s)`` configurations at ladder
    index ``s_max - s`` and keeps ``floor(n / eta**i)`` of them at its ``i``-th rung, so that
    every bracket spends about the same budget.
    """
    plans = []
    for s in range(s_max, -1, -1):
        n = int(math.ceil((s_max + 1) / (s + 1) * eta**s - _EPS))
        counts = tuple(max(1, int(math.floor(n / eta**i + _EPS))) for i in range(s + 1))
        plans.append(BracketPlan(halvings=s, base=s_max - s, counts=counts))
    return tuple(plans)


def bracket_resources(plan: BracketPlan, ladder: Sequence[float]) -> float:
    """Fidelity units one bracket spends when promoted runs continue from their checkpoints."""
    spent, below = 0.0, 0.0
    for rung in plan.rungs:
        spent += plan.count(rung) * (ladder[rung] - below)
        below = ladder[rung]
    return spent


def top_count(n: int, eta: float) -> int:
    """``floor(n / eta)``: how many of ``n`` finished trials make the top ``1/eta``."""
    return int(math.floor(n / eta + _EPS))


# --------------------------------------------------------------------- history
def scheduled(record: TrialRecord) -> bool:
    """Whether a scheduler placed this trial (user-enqueued trials carry no rung)."""
    return isinstance(record.info.get(RUNG), int) and isinstance(record.info.get(BRACKET), int)


def by_bracket(history: Iterable[TrialRecord]) -> dict[int, list[TrialRecord]]:
    """Scheduled trials grouped by the bracket they belong to."""
    out: dict[int, list[TrialRecord]] = defaultdict(list)
    for t in history:
        if scheduled(t):
            out[int(t.info[BRACKET])].append(t)
    return out


def by_rung(trials: Iterable[TrialRecord]) -> dict[int, list[TrialRecord]]:
    """Scheduled trials grouped by ladder index (an absent rung reads as empty)."""
    out: dict[int, list[TrialRecord]] = defaultdict(list)
    for t in trials:
        if scheduled(t):
            out[int(t.info[RUNG])].append(t)
    return out


def ladder_index(ladder: Sequence[float], fidelity: float | None) -> int | None:
    """The rung a fidelity sits on, or None when it is on none."""
    if fidelity is None:
        return None
    for i, value in enumerate(ladder):
        if abs(float(value) - float(fidelity)) <= _EPS * max(1.0, abs(float(value))):
            return i
    return None


def continued(trials: Iterable[TrialRecord]) -> set[int]:
    """Numbers of the trials that ``trials`` continue (promotions already made, in flight or not)."""
    return {t.continue_from for t in trials if t.continue_from is not None}


def next_number(history: Sequence[TrialRecord]) -> int:
    """The number the store gives the next trial (one past the highest)."""
    return max((t.number for t in history), default=-1) + 1


# --------------------------------------------------------------------- ranking
def first_objective_score(record: TrialRecord, objectives: Sequence[Objective]) -> float:
    """Loss of a finished trial on the first objective (lower is better; failures are +inf)."""
    if record.status in (TrialStatus.FAILED, TrialStatus.LOST) or not objectives:
        return math.inf
    value = (record.metrics or {}).get(objectives[0].name)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return math.inf
    return objectives[0].sign * float(value)


def rank_by_first_objective(records: Sequence[TrialRecord], objectives: Sequence[Objective]) -> list[TrialRecord]:
    """Records best first on the first objective; ties go to the older trial, failures last."""
    return sorted(records, key=lambda t: (first_objective_score(t, objectives), t.number))


def promotable(record: TrialRecord, objectives: Sequence[Objective]) -> bool:
    """Whether a trial may go on to a higher rung: completed, with a finite result.

    Failed and lost trials count as worst and never continue; pruned ones (stopped by a
    scheduler) are ranked with what they reported but stay where they were stopped.
    """
    return record.status is TrialStatus.COMPLETED and math.isfinite(first_objective_score(record, objectives))
