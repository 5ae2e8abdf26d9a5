"""What a warm-started study learns from: earlier studies' results, matched into its space and frozen.

A study created with ``warm_start`` reads its earlier studies once, at creation, matches
their trials into its own space (``metaml.space.matching``) and keeps the outcome in its
metadata (``StudyMetadata.warm_start``). Every process that opens the study reads the same
frozen records, so that resuming or replaying it makes the same decisions even if an earlier
study has grown since. The records travel to the optimizers on the ``StudyView``
(``view.warm_start``); they are never trials of this study: they cost it nothing, and never
reach its front, its best or its exports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PriorObservation:
    """One finished trial of an earlier study, as this study's space and objectives read it."""

    #: Its number in the earlier study (provenance).
    trial: int
    #: Its configuration, matched into this study's space (valid here).
    config: Mapping[str, Any]
    #: How far it trained, as a share of the earlier study's full fidelity (1.0 without a fidelity).
    fraction: float
    #: This study's objectives in order, lower is better (NaN where the earlier trial lacks one).
    losses: tuple[float, ...]

    @property
    def loss(self) -> float:
        """The first objective, lower is better: what the transfer methods rank by."""
        return self.losses[0] if self.losses else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"trial": self.trial, "config": dict(self.config), "fraction": self.fraction,
                "losses": [None if math.isnan(v) else v for v in self.losses]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriorObservation:
        losses = tuple(math.nan if v is None else float(v) for v in data.get("losses", ()))
        return cls(int(data["trial"]), dict(data["config"]), float(data.get("fraction", 1.0)), losses)


@dataclass(frozen=True)
class PriorStudy:
    """An earlier study a warm-started study learns from: where it lives, what was taken and what was said."""

    name: str
    #: The store it was read from, password masked.
    store: str
    uid: str | None
    observations: tuple[PriorObservation, ...] = ()
    #: What the matching did, in words: parameters dropped, values clipped, trials refused, rows skipped.
    notes: tuple[str, ...] = ()
    #: Trials the earlier study held when it was read, and the FTE they cost there (not here).
    n_trials: int = 0
    cost_fte: float = 0.0
    #: This study's objective name -> the earlier study's metric it was read from, where they differ.
    objectives: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How outputs name it: ``name`` (``store``)."""
        return f"{self.name} ({self.store})"

    def best(self) -> PriorObservation | None:
        """Its best observation at its highest fidelity (the first objective), or None."""
        usable = [o for o in self.observations if not math.isnan(o.loss)]
        if not usable:
            return None
        top = max(o.fraction for o in usable)
        return min((o for o in usable if o.fraction >= top - 1e-9), key=lambda o: (o.loss, o.trial))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "store": self.store, "uid": self.uid, "n_trials": self.n_trials,
                "cost_fte": self.cost_fte, "notes": list(self.notes), "objectives": dict(self.objectives),
                "observations": [o.to_dict() for o in self.observations]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriorStudy:
        return cls(
            name=str(data["name"]), store=str(data.get("store", "")), uid=data.get("uid"),
            observations=tuple(PriorObservation.from_dict(o) for o in data.get("observations", ())),
            notes=tuple(str(n) for n in data.get("notes", ())), n_trials=int(data.get("n_trials", 0)),
            cost_fte=float(data.get("cost_fte", 0.0)), objectives=dict(data.get("objectives") or {}),
        )


def warm_start_to_info(sources: Sequence[PriorStudy]) -> dict[str, Any]:
    """The JSON object kept as ``StudyMetadata.warm_start``."""
    return {"sources": [s.to_dict() for s in sources]}


def warm_start_from_info(info: Mapping[str, Any] | None) -> tuple[PriorStudy, ...]:
    """The earlier studies frozen in ``StudyMetadata.warm_start`` (none when it is unset)."""
    if not info:
        return ()
    return tuple(PriorStudy.from_dict(s) for s in info.get("sources", ()))
