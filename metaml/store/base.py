"""The store contract: what every study database backend must do (its conformance suite: ``metaml.testing.store.StoreSuite``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from metaml.core.records import (
    Changes,
    Cursor,
    Event,
    ImportedTrial,
    Observation,
    Proposal,
    StudyRecord,
    TrialRecord,
    TrialStatus,
)

#: Decides the next trial, under the study's lock, from what changed since the caller's cursor; None: nothing now.
Decider = Callable[[Changes], "Proposal | None"]


@runtime_checkable
class Store(Protocol):
    """A study database: the single source of truth of every study it holds."""

    url: str

    # studies
    def create_study(
        self,
        name: str,
        space: dict[str, Any],
        objectives: list[dict[str, Any]],
        optimizer: str,
        optimizer_settings: dict[str, Any],
        seed: int,
        info: dict[str, Any],
    ) -> StudyRecord: ...
    def import_study(
        self,
        name: str,
        space: dict[str, Any],
        objectives: list[dict[str, Any]],
        optimizer: str,
        optimizer_settings: dict[str, Any],
        seed: int,
        info: dict[str, Any],
        trials: Sequence[ImportedTrial],
    ) -> StudyRecord:
        """Create a study holding finished imported ``trials`` (their curves and an ``imported`` event), all or nothing.

        Each trial keeps its number and its provenance as ``info["imported"]``, costs 0 FTE,
        and has no worker, start step or end step beyond the curve it brings.
        """
        ...

    def get_study(self, name: str) -> StudyRecord: ...
    def list_studies(self) -> list[str]: ...
    def update_study_info(self, study_id: int, updates: dict[str, Any]) -> None: ...

    # trials
    def ask(self, study_id: int, worker: str, decide: Decider, since: Cursor | None = None) -> TrialRecord | None:
        """Atomically claim the oldest pending trial, or create and claim the one ``decide`` makes.

        ``decide`` is given the changes since ``since`` (all of the study without), read under the lock.
        """
        ...

    def claim_pending(self, study_id: int, worker: str) -> TrialRecord | None:
        """Atomically claim the oldest pending trial; None when none is queued."""
        ...

    def snapshot(self, study_id: int, since: Cursor | None = None) -> Changes:
        """What changed since ``since`` (all of it without), read without a lock; the cursor to go on from.

        Every change of a trial's state (a claim, a result, a requeue, a restored step)
        advances the study's version; ``Changes.cursor.version`` is the version the returned
        trials are as of.
        """
        ...

    def commit_proposal(self, study_id: int, worker: str, proposal: Proposal, version: int) -> TrialRecord | None:
        """Create and claim the proposed trial if the study is still at ``version``; None (nothing written) if not."""
        ...

    def enqueue(self, study_id: int, trial: Proposal) -> TrialRecord: ...
    def heartbeat(self, study_id: int, number: int, worker: str, attempt: int | None = None) -> bool:
        """Refresh the heartbeat; False when ``worker`` (and claim ``attempt``) no longer hold the trial."""
        ...

    def holds(self, study_id: int, number: int, attempt: int | None) -> bool:
        """Whether claim ``attempt`` is still the running trial's current one."""
        ...
    def finish(
        self,
        study_id: int,
        number: int,
        status: TrialStatus,
        *,
        metrics: dict[str, Any] | None = None,
        start_step: float | None = None,
        end_step: float | None = None,
        cost_fte: float = 0.0,
        error: str | None = None,
        traceback: str | None = None,
        fte_per_step: float | None = None,
        attempt: int | None = None,
        info: dict[str, Any] | None = None,
    ) -> bool:
        """Record a running trial's end; False when it was not running (already finished or requeued)
        or, with ``attempt``, when that claim is no longer the current one (fencing).

        ``cost_fte`` is this run's cost, added to what the trial's earlier runs were charged;
        with ``fte_per_step`` the run is charged for the steps it reported instead. ``info``
        (JSON-ready) is merged into the trial's info in the same write as its metrics, e.g.
        ``{"details": ...}``: what the metrics are made of.
        """
        ...

    def set_start_step(
        self, study_id: int, number: int, worker: str | None, step: float, attempt: int | None = None
    ) -> bool:
        """Note the step a running trial restored; False when ``worker`` does not hold it."""
        ...

    def requeue(
        self,
        study_id: int,
        number: int,
        reason: str,
        *,
        count_retry: bool,
        fte_per_step: float | None = None,
        attempt: int | None = None,
    ) -> bool:
        """Return a running trial to the queue; with ``fte_per_step`` the steps its run reported are charged."""
        ...

    def recover_stale(
        self, study_id: int, stale_after: float, max_retries: int, fte_per_step: float | None = None
    ) -> list[int]:
        """Requeue or mark lost the running trials without a recent heartbeat, charging what they reported."""
        ...
    def trials(self, study_id: int, statuses: Sequence[TrialStatus] | None = None) -> list[TrialRecord]: ...
    def trial(self, study_id: int, number: int) -> TrialRecord: ...

    # learning curves and audit log
    def add_observation(
        self, study_id: int, number: int, step: float, metrics: dict[str, Any], attempt: int | None = None
    ) -> bool:
        """Record a curve point keyed by step (a repeated step updates it); False when ``attempt`` lost the claim."""
        ...
    def observations(self, study_id: int, number: int | None = None) -> list[Observation]: ...
    def add_event(
        self, study_id: int, kind: str, message: str, trial_number: int | None = None, data: dict[str, Any] | None = None
    ) -> None: ...
    def events(self, study_id: int, kinds: Sequence[str] | None = None) -> list[Event]: ...
    def intervene(self, study_id: int, message: str, data: dict[str, Any], trial_number: int | None = None) -> None:
        """Log an expert's intervention (an event of kind ``intervention``) and advance the study's version.

        The version moves so that a decision made before it, on a view without it, is not
        committed (``commit_proposal`` refuses it) and is made again on the steered space.
        """
        ...

    def close(self) -> None: ...
