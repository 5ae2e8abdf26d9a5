"""Frozen records that cross the store's boundary: studies, trials, observations, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from metaml.core.metadata import StudyMetadata


class TrialStatus(str, Enum):
    """Where a trial is in its life: queued, running, or finished one way or another."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    PRUNED = "pruned"
    LOST = "lost"

    @property
    def finished(self) -> bool:
        return self in (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.PRUNED, TrialStatus.LOST)


@dataclass(frozen=True)
class StudyRecord:
    """A study as stored: its space, objectives, optimizer and seed."""

    id: int
    name: str
    space: dict[str, Any]
    objectives: list[dict[str, Any]]
    optimizer: str
    optimizer_settings: dict[str, Any]
    seed: int
    created_at: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def metadata(self) -> StudyMetadata:
        """The study's metadata, typed (``info`` is how the store keeps it)."""
        return StudyMetadata.from_info(self.info)


#: The key of a trial's returned dict (and of its ``info``) that holds what its metrics are made of:
#: a JSON-ready mapping kept with the trial, never ranked on (the built-in pipelines put the
#: group breakdown of each fairness metric and the metrics' confidence intervals there).
DETAILS_KEY = "details"
#: The trial ``info`` key that marks a trial as imported and holds its provenance.
IMPORTED_KEY = "imported"
#: The trial ``info`` key of a one-shot search's trials: ``supernet`` (never a result) or ``derived``.
ONESHOT_KEY = "oneshot"


@dataclass(frozen=True)
class ImportedTrial:
    """A finished trial brought in from elsewhere (an Optuna study, a CSV file): what it measured, never trained here.

    ``curve`` holds its learning-curve points as ``(step, metrics)``; ``provenance`` says
    where it came from (at least ``source``) and is kept as the trial's ``info["imported"]``.
    """

    number: int
    config: dict[str, Any]
    status: TrialStatus
    provenance: dict[str, Any]
    metrics: dict[str, Any] | None = None
    fidelity: float | None = None
    curve: tuple[tuple[float, dict[str, Any]], ...] = ()
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None


@dataclass(frozen=True)
class Proposal:
    """What an optimizer decided to run next: a config, its fidelity, and the trial it continues."""

    config: dict[str, Any]
    fidelity: float | None = None
    continue_from: int | None = None
    reason: str = ""
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialRecord:
    """One trial: a configuration at a fidelity, and what became of it."""

    study_id: int
    number: int
    config: dict[str, Any]
    fidelity: float | None
    continue_from: int | None
    status: TrialStatus
    worker: str | None = None
    heartbeat: float | None = None
    created_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    metrics: dict[str, Any] | None = None
    start_step: float | None = None
    end_step: float | None = None
    cost_fte: float = 0.0
    error: str | None = None
    traceback: str | None = None
    retries: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    id: int = 0

    @property
    def attempt(self) -> int:
        """The claim token: how many times the trial was claimed; writes carry it to prove they hold it."""
        value = self.info.get("attempt", 0)
        return int(value) if isinstance(value, int) else 0

    @property
    def is_supernet(self) -> bool:
        """Whether this trial trained a one-shot search's supernet: charged and kept, never a model of its config."""
        return self.info.get(ONESHOT_KEY) == "supernet"

    @property
    def imported(self) -> dict[str, Any] | None:
        """Where an imported trial came from (``info["imported"]``: source, ...); None for a trial run here.

        An imported trial was not trained by metaml: it costs 0 FTE, has no checkpoint, and
        the budget of the study that holds it does not count it.
        """
        value = self.info.get(IMPORTED_KEY)
        return dict(value) if isinstance(value, dict) else None

    @property
    def details(self) -> dict[str, Any]:
        """What the trial's metrics are made of (``info["details"]``), e.g. ``{"fairness": {metric: breakdown},
        "intervals": {metric: {...}}}``; empty when its function returned none."""
        value = self.info.get(DETAILS_KEY)
        return dict(value) if isinstance(value, dict) else {}

    @property
    def duration(self) -> float | None:
        """Seconds the trial ran, once it has finished."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class Observation:
    """One point of a trial's learning curve."""

    trial_number: int
    step: float
    metrics: dict[str, Any]
    time: float


@dataclass(frozen=True)
class Event:
    """One line of the audit log: a proposal, a decision, a failure, a recovery."""

    id: int
    kind: str
    message: str
    trial_number: int | None
    data: dict[str, Any]
    time: float


@dataclass(frozen=True)
class Cursor:
    """Where a reader of a study stands: the version of its trials and the last curve point and event seen.

    The default (version -1) stands before everything, so that a first snapshot reads the whole study.
    """

    version: int = -1
    observation: int = 0
    event: int = 0


@dataclass(frozen=True)
class Changes:
    """What changed in a study since a cursor: trials (as they are now), new curve points, new events."""

    cursor: Cursor
    trials: tuple[TrialRecord, ...] = ()
    observations: tuple[Observation, ...] = ()
    events: tuple[Event, ...] = ()
