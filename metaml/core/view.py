"""A reader's picture of a study, kept up to date by reading only what changed.

Deciding the next trial, or whether a running one should stop, needs the whole history; a
worker keeps it as a ``StudyView`` and applies the store's ``Changes`` since its cursor, so
that each decision reads what changed (a few rows), not the study (thousands), and no
write lock is held while the optimizer thinks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from metaml.core.interventions import Intervention, interventions_of
from metaml.core.records import Changes, Cursor, Event, Observation, Proposal, TrialRecord, TrialStatus
from metaml.core.warm_start import PriorStudy


@dataclass(frozen=True)
class StudyView:
    """An immutable picture of a study as of ``cursor``: its trials, their curves, its events."""

    cursor: Cursor = field(default_factory=Cursor)
    trials: tuple[TrialRecord, ...] = ()
    #: Each trial's learning curve in step order, one point per step.
    curves: Mapping[int, tuple[Observation, ...]] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    #: The experts' interventions among ``events`` (pins, priors, narrowed ranges, limits, ...), oldest
    #: first: what the space and the limits of a decision on this view are as of (``metaml.space.steer``).
    interventions: tuple[Intervention, ...] = ()
    #: The earlier studies this one was warm-started from (frozen at creation; never trials of its own).
    warm_start: tuple[PriorStudy, ...] = ()

    @classmethod
    def of(cls, trials: Iterable[TrialRecord], observations: Iterable[Observation] = (),
           events: Iterable[Event] = (), warm_start: Iterable[PriorStudy] = ()) -> StudyView:
        """A view of the given records (a simulation, a benchmark, a test), with no store behind it."""
        return cls(warm_start=tuple(warm_start)).apply(Changes(cursor=Cursor(), trials=tuple(trials), observations=tuple(observations),
                                   events=tuple(events)))

    @property
    def version(self) -> int:
        """The study version these trials are as of: a decision made on them is committed with it."""
        return self.cursor.version

    def trial(self, number: int) -> TrialRecord | None:
        for t in self.trials:
            if t.number == number:
                return t
        return None

    def curve(self, number: int) -> tuple[Observation, ...]:
        return self.curves.get(number, ())

    def with_pending(self, proposal: Proposal) -> StudyView:
        """This view with ``proposal`` added as the next queued trial: how a batch of decisions sees its own."""
        study_id = self.trials[-1].study_id if self.trials else 0
        number = max((t.number for t in self.trials), default=-1) + 1
        pending = TrialRecord(study_id=study_id, number=number, config=dict(proposal.config),
                              fidelity=proposal.fidelity, continue_from=proposal.continue_from,
                              status=TrialStatus.PENDING, info=dict(proposal.info))
        return StudyView(cursor=self.cursor, trials=(*self.trials, pending), curves=self.curves, events=self.events,
                         interventions=self.interventions, warm_start=self.warm_start)

    def restricted(self, numbers: frozenset[int] | set[int]) -> StudyView:
        """This view with only the trials ``numbers`` (and their curves): what a steered optimizer decides on."""
        return StudyView(cursor=self.cursor, trials=tuple(t for t in self.trials if t.number in numbers),
                         curves={n: c for n, c in self.curves.items() if n in numbers}, events=self.events,
                         interventions=self.interventions, warm_start=self.warm_start)

    def others(self, number: int) -> list[Observation]:
        """Every curve point of the other trials (what rung-based stopping compares against)."""
        return [o for n, curve in self.curves.items() if n != number for o in curve]

    def apply(self, changes: Changes) -> StudyView:
        """This view with ``changes`` applied: changed trials replaced, new points merged by step."""
        if not (changes.trials or changes.observations or changes.events) and changes.cursor == self.cursor:
            return self
        trials = self.trials
        if changes.trials:
            by_number = {t.number: t for t in self.trials}
            by_number.update({t.number: t for t in changes.trials})
            trials = tuple(by_number[n] for n in sorted(by_number))
        curves = dict(self.curves)  # shallow: only the curves that gained points are rebuilt
        touched: dict[int, dict[float, Observation]] = {}
        for o in changes.observations:
            points = touched.get(o.trial_number)
            if points is None:
                points = touched[o.trial_number] = {p.step: p for p in curves.get(o.trial_number, ())}
            points[o.step] = o  # a step reported again replaces the point
        for number, points in touched.items():
            curves[number] = tuple(points[step] for step in sorted(points))
        events = self.events + changes.events if changes.events else self.events
        interventions = self.interventions + interventions_of(changes.events) if changes.events else self.interventions
        return StudyView(cursor=changes.cursor, trials=trials, curves=curves, events=events, interventions=interventions,
                         warm_start=self.warm_start)
