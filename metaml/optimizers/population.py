"""A population trained in intervals: where each member stands, read back from the history.

Population-based training (Jaderberg et al. 2017) runs N members side by side; every
interval of the fidelity is one trial, which continues a checkpoint: the member's own
(``continue``) or, for a member at the bottom, a top member's with perturbed schedulable
values (``exploit``). metaml runs the generations synchronously: generation g+1 is decided
once every trial of generation g has finished, so that a decision depends on the seed and
the results alone, and the study reproduces with any number of workers. Each trial's
``info["pbt"]`` says where it stands (round, member, generation, action, source member, what
was explored), which is all the optimizer keeps: a study resumed from its store decides the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metaml.core.records import TrialRecord, TrialStatus
from metaml.objectives import Objective
from metaml.optimizers.rungs import first_objective_score

#: The ``info`` key of a population member's trial.
PBT = "pbt"
INITIAL, CONTINUE, EXPLOIT, REPLACE, RESTART = "initial", "continue", "exploit", "replace", "restart"


@dataclass(frozen=True)
class Place:
    """Where one trial stands in the population: its round, member and generation, and how it came to be."""

    round: int
    member: int
    generation: int
    action: str

    @classmethod
    def of(cls, record: TrialRecord) -> Place | None:
        data = record.info.get(PBT)
        if not isinstance(data, Mapping):
            return None
        try:
            return cls(int(data["round"]), int(data["member"]), int(data["generation"]), str(data["action"]))
        except (KeyError, TypeError, ValueError):
            return None


def members(history: Iterable[TrialRecord]) -> list[tuple[Place, TrialRecord]]:
    """The population's trials with their places (user-enqueued trials have none and are left out)."""
    return [(p, t) for t in history if (p := Place.of(t)) is not None]


def generation(placed: Sequence[tuple[Place, TrialRecord]], round_: int, gen: int) -> dict[int, TrialRecord]:
    """Member -> its trial in generation ``gen`` of round ``round_`` (the first one, should there be two)."""
    out: dict[int, TrialRecord] = {}
    for place, t in placed:
        if place.round == round_ and place.generation == gen and place.member not in out:
            out[place.member] = t
    return out


def score(record: TrialRecord, objectives: Sequence[Objective]) -> float:
    """A member's loss at the end of its interval: +inf when it failed, was lost or gave no finite value."""
    return first_objective_score(record, objectives)


def usable(record: TrialRecord, objectives: Sequence[Objective]) -> bool:
    """Whether another trial may continue this one: it completed its interval with a finite result."""
    return record.status is TrialStatus.COMPLETED and math.isfinite(score(record, objectives))


def ranked(gen: Mapping[int, TrialRecord], objectives: Sequence[Objective]) -> list[int]:
    """Members best first (ties to the lower member number, failures last)."""
    return sorted(gen, key=lambda m: (score(gen[m], objectives), m))


def quantile(population: int, fraction: float) -> int:
    """How many members make the top (and the bottom): ``fraction`` of them, at least one, at most half."""
    return max(1, min(population // 2, int(math.floor(population * fraction + 1e-9))))


def place_info(place: Place, **extra: Any) -> dict[str, Any]:
    """The ``info`` a member's trial carries."""
    data: dict[str, Any] = {"round": place.round, "member": place.member, "generation": place.generation,
                            "action": place.action}  # fmt: skip
    data.update({k: v for k, v in extra.items() if v is not None})
    return {PBT: data}
