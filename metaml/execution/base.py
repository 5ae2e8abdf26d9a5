"""The executor contract: run a study's trials somewhere, enforce its limits or refuse, say what finished.

Every executor runs the same worker loop against the same store, so the guarantees of the
store (exactly-once recording, fencing) hold whatever runs the trials. What an executor
adds, and what ``metaml.testing.executors.ExecutorSuite`` checks of each one:

- it enforces each execution setting it claims in ``enforces`` (a trial past ``timeout`` is
  failed "timed out", one past ``memory_mb`` fails "out of memory"), and refuses, with a
  ``MetamlError`` naming the setting and before any trial runs, the ones it does not;
- it loses and duplicates no trial;
- ``run`` returns the trials that reached a final state while it ran, each once, in number
  order, read back from the store: the same value whatever the executor.

Executors sit below ``metaml.study``: they see a study through ``StudyHandle``
(``metaml.execution.handle``), which ``metaml.Study`` satisfies.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from metaml.budget import Budget
from metaml.core.records import TrialRecord
from metaml.errors import MetamlError
from metaml.execution.functions import FunctionRef, TrialFunction
from metaml.execution.handle import StudyHandle
from metaml.execution.settings import ExecutionSettings

#: The execution settings that are limits on a trial: an executor enforces each or refuses it.
LIMITS = ("timeout", "memory_mb")

OnTrial = Callable[[TrialRecord], None]



class Executor(ABC):
    """Runs a study's trials until its budget is spent; registered by ``name`` (see ``dispatch``)."""

    #: The name settings and ``--executor`` use.
    name: ClassVar[str]
    #: The limits of ``LIMITS`` that this executor enforces; it refuses the others.
    enforces: ClassVar[frozenset[str]] = frozenset()
    #: Why the limits it does not enforce cannot be enforced here, and what to use instead.
    cannot_enforce_because: ClassVar[str] = ""
    instead: ClassVar[str] = "remove the setting"

    def unenforced(self, settings: ExecutionSettings) -> list[str]:
        """The limits ``settings`` sets that this executor cannot enforce (empty: it can run them)."""
        return [name for name in LIMITS if getattr(settings, name) is not None and name not in self.enforces]

    def check(self, settings: ExecutionSettings) -> None:
        """Raise a ``MetamlError`` naming each limit of ``settings`` this executor cannot enforce."""
        unenforced = self.unenforced(settings)
        if unenforced:
            why = f" ({self.cannot_enforce_because})" if self.cannot_enforce_because else ""
            raise MetamlError(f"the {self.name} executor cannot enforce {' and '.join(unenforced)}{why}: {self.instead}")

    def run(
        self,
        study: StudyHandle,
        fn: TrialFunction | FunctionRef,
        budget: Budget,
        settings: ExecutionSettings,
        *,
        on_trial: OnTrial | None = None,
    ) -> list[TrialRecord]:
        """Run ``study`` under ``budget``; return ``finished_since(study, before)`` of this run.

        The limits are checked first: a refusal happens before the store is touched or the
        function imported.
        """
        self.check(settings)
        return self.launch(study, fn, budget, settings, on_trial)

    @abstractmethod
    def launch(
        self,
        study: StudyHandle,
        fn: TrialFunction | FunctionRef,
        budget: Budget,
        settings: ExecutionSettings,
        on_trial: OnTrial | None,
    ) -> list[TrialRecord]:
        """Run the trials (``run`` has checked the limits)."""


def finished_numbers(study: StudyHandle) -> frozenset[int]:
    """The numbers of the trials of ``study`` in a final state now (taken when a run starts)."""
    return frozenset(t.number for t in study.trials() if t.status.finished)


def finished_since(study: StudyHandle, before: frozenset[int]) -> list[TrialRecord]:
    """The trials of ``study`` that are final now and were not in ``before``, in number order.

    Read back from the store, so each appears once with its recorded outcome, whichever
    process (a worker, the parent at a timeout, a sweep) finished it.
    """
    return sorted((t for t in study.trials() if t.status.finished and t.number not in before), key=lambda t: t.number)
