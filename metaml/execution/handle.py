"""The study as executors see it: ``StudyHandle``, what the worker loop asks of a study.

Executors, the worker loop and the trial runner sit below ``metaml.study`` (tests/test_layers.py
keeps it so): they are typed against this protocol, which ``metaml.Study`` satisfies, and a
worker process opens its study with the handle's own ``load``, so nothing here imports the study.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from metaml.budget import Budget
from metaml.core.records import TrialRecord, TrialStatus
from metaml.objectives import Reference
from metaml.optimizers.base import Optimizer
from metaml.trial import Trial, TrialHost


class StudyHandle(TrialHost, Protocol):
    """What executors and the worker loop need of a study: trials out, results in, lost workers handled."""

    @property
    def name(self) -> str: ...

    @property
    def optimizer(self) -> Optimizer: ...

    @classmethod
    def load(cls, name: str, store: str) -> StudyHandle:
        """Open the study ``name`` in ``store`` (a URL): how a worker process finds it."""
        ...

    def ask(
        self, worker: str | None = None, budget: Budget | None = None, *, max_failures: int | None = None
    ) -> Trial | None: ...

    def tell(
        self,
        trial: Trial | int,
        metrics: Mapping[str, Any] | None = None,
        *,
        error: BaseException | str | None = None,
        traceback: str | None = None,
    ) -> TrialRecord: ...

    def requeue(self, trial: Trial | int, reason: str, *, count_retry: bool = False) -> bool: ...

    def recover_lost(self, stale_after: float = ..., max_retries: int = ..., timeout: float | None = None) -> list[int]: ...

    def worker_died(
        self, worker: str, how: str, max_retries: int = ..., running: Sequence[TrialRecord] | None = None
    ) -> list[int]: ...

    def trials(self, statuses: Sequence[TrialStatus | str] | None = None) -> list[TrialRecord]: ...

    def record_reference(self) -> Reference: ...
