"""An expert's intervention in a running study, as the decision log keeps it: what, on what, by whom, why.

Interventions are events of the kind ``intervention`` (``Event.data`` holds the fields below),
so they travel with the store's deltas into every reader's ``StudyView``. A decision made on a
view sees exactly the interventions written before it, which is what keeps resume and replay
exact: the space and the limits a decision used are a function of the history it read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metaml.core.records import Event

#: The event kind of every intervention.
INTERVENTION = "intervention"
#: What an expert can do. ``enqueue`` is recorded here too (the queued trial is a trial of its own).
ACTIONS = ("enqueue", "prior", "pin", "unpin", "narrow", "limit", "note", "choose")
#: The actions that change the space the optimizers search.
SPACE_ACTIONS = ("prior", "pin", "unpin", "narrow")


@dataclass(frozen=True)
class Intervention:
    """One intervention: ``action`` on ``target`` (a parameter, an objective, or None for the study).

    ``value`` is the pinned value or prior (``pin``, ``prior``), ``[low, high]`` (``narrow``),
    the limit (``limit``, None to drop it), the queued configuration (``enqueue``), the text
    (``note``) or the chosen model's metrics (``choose``); ``trial`` the trial a note is about,
    the trial an enqueue created, or the front model chosen.
    """

    action: str
    target: str | None
    value: Any
    author: str
    reason: str = ""
    confidence: str | None = None
    trial: int | None = None
    time: float = 0.0
    event_id: int = 0

    def data(self) -> dict[str, Any]:
        """The event's ``data``: everything but the event's own id and time."""
        out: dict[str, Any] = {"action": self.action, "target": self.target, "value": self.value,
                               "author": self.author, "reason": self.reason}
        if self.confidence is not None:
            out["confidence"] = self.confidence
        return out

    @classmethod
    def from_event(cls, event: Event) -> Intervention | None:
        """The intervention an event records, or None for an event of another kind (or a malformed one)."""
        d = event.data
        if event.kind != INTERVENTION or d.get("action") not in ACTIONS:
            return None
        confidence = d.get("confidence")
        return cls(action=str(d["action"]), target=None if d.get("target") is None else str(d["target"]),
                   value=d.get("value"), author=str(d.get("author") or "unknown"), reason=str(d.get("reason") or ""),
                   confidence=None if confidence is None else str(confidence), trial=event.trial_number,
                   time=event.time, event_id=event.id)

    def describe(self) -> str:
        """The intervention in words, as the decision log shows it: what, by whom, why."""
        return f"{self.what()} by {self.author}" + (f": {self.reason}" if self.reason else "")

    def what(self) -> str:
        """What the intervention does, in words (without its author and reason)."""
        return {
            "enqueue": f"enqueued {self.value}",
            "prior": f"prior {self.target}={self.value!r}" + (f" ({self.confidence} confidence)" if self.confidence else ""),
            "pin": f"pinned {self.target}={self.value!r}",
            "unpin": f"unpinned {self.target}",
            "narrow": f"narrowed {self.target} to [{_pair(self.value)}]",
            "limit": f"set the limit of {self.target} to {self.value:g}" if isinstance(self.value, (int, float))
                     else f"removed the limit of {self.target}",
            "note": f"note{'' if self.trial is None else f' on trial {self.trial}'}: {self.value}",
            "choose": f"chose trial {self.trial} as the trade-off to use",
        }[self.action]


def _pair(value: Any) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{value[0]:g}, {value[1]:g}" if all(isinstance(v, (int, float)) for v in value) else f"{value[0]}, {value[1]}"
    return str(value)


def interventions_of(events: tuple[Event, ...] | list[Event]) -> tuple[Intervention, ...]:
    """The interventions among ``events``, oldest first."""
    found = (Intervention.from_event(e) for e in events)
    return tuple(i for i in found if i is not None)


__all__ = ["ACTIONS", "INTERVENTION", "SPACE_ACTIONS", "Intervention", "interventions_of"]
