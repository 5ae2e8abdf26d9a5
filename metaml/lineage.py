"""A trial's lineage: the chain of trials whose checkpoints its model continues, and the schedule it trained with.

A promoted trial continues its own configuration's checkpoint; a population member that
exploited continues *another* member's, with other schedulable values. Following
``continue_from`` back gives, for any trial, every interval its weights went through: which
trial trained which steps with which values, what each cost, and the schedule (value per
step) of the schedulable parameters. The report draws it, ``metaml export`` writes the
schedule, and a new study replays it (the study file's ``schedule:``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metaml.core.records import TrialRecord
from metaml.core.schedule import Schedule


@dataclass(frozen=True)
class Link:
    """One interval of a lineage: the trial, the steps it trained, its cost, and how it came to be."""

    trial: int
    start: float
    end: float
    cost_fte: float
    config: Mapping[str, Any]
    action: str
    member: int | None


@dataclass(frozen=True)
class Lineage:
    """Oldest first: the initial trial, then each trial that continued the one before."""

    links: tuple[Link, ...]

    @property
    def cost_fte(self) -> float:
        """What training the final model cost: the sum over its intervals."""
        return sum(link.cost_fte for link in self.links)

    @property
    def root(self) -> int:
        return self.links[0].trial

    def schedule(self, names: Sequence[str]) -> Schedule:
        """The values of ``names`` per step that the final model trained with."""
        return Schedule.from_intervals([(link.start, link.config) for link in self.links], tuple(names))

    def to_dict(self, names: Sequence[str] = ()) -> dict[str, Any]:
        return {
            "trials": [link.trial for link in self.links],
            "intervals": [
                {"trial": x.trial, "start": x.start, "end": x.end, "cost_fte": x.cost_fte, "action": x.action,
                 "member": x.member}  # fmt: skip
                for x in self.links
            ],
            "cost_fte": self.cost_fte,
            "schedule": self.schedule(names).to_dict() if names else {},
        }


def lineage(trial: TrialRecord, trials: Sequence[TrialRecord]) -> Lineage:
    """The chain of ``trial`` and the trials it continues, oldest first (a missing or cyclic link ends it)."""
    by_number = {t.number: t for t in trials}
    chain = [trial]
    while (parent := chain[-1].continue_from) is not None and parent in by_number:
        if any(t.number == parent for t in chain):
            break
        chain.append(by_number[parent])
    links = []
    for t in reversed(chain):
        start = float(t.start_step) if t.start_step is not None else 0.0
        end = float(t.end_step) if t.end_step is not None else float(t.fidelity or 0.0)
        info = t.info.get("pbt")
        action = str(info.get("action")) if isinstance(info, Mapping) else ("promotion" if t.continue_from is not None else "initial")
        member = int(info["member"]) if isinstance(info, Mapping) and "member" in info else None
        links.append(Link(t.number, start, end, float(t.cost_fte), dict(t.config), action, member))
    # A run that restored nothing (its parent's checkpoint was missing) trained from scratch: its model
    # holds none of the intervals before it.
    fresh = [i for i, link in enumerate(links) if link.start == 0.0]
    return Lineage(tuple(links[fresh[-1]:] if fresh else links))
