"""The trial context handed to the user's function: config, fidelity, reporting, checkpoints.

``Trial`` is the study's implementation of ``metaml.core.trial_context.TrialContext``. It
reaches its study only through ``TrialHost`` (what a trial reads and writes), which
``metaml.Study`` satisfies: this module sits below the study (tests/test_layers.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from metaml.checkpoint import CHECKPOINT_FILE, CheckpointOwner, load_checkpoint, save_checkpoint
from metaml.core.records import TrialRecord
from metaml.core.schedule import Schedule
from metaml.core.trial_context import RunSettings
from metaml.core.view import StudyView
from metaml.errors import BudgetSpentError, ClaimLostError, TrialError
from metaml.objectives import Objective
from metaml.spending import EPSILON_FTE, committed_fte, planned_cost
from metaml.store.base import Store

if TYPE_CHECKING:
    from metaml.budget import Budget

log = logging.getLogger(__name__)


class TrialHost(Protocol):
    """What a trial needs of its study: the store it writes through, its identity, and its decisions."""

    @property
    def id(self) -> int: ...

    @property
    def uid(self) -> str | None: ...

    @property
    def store(self) -> Store: ...

    @property
    def objectives(self) -> Sequence[Objective]: ...

    @property
    def full_fidelity(self) -> float | None: ...

    @property
    def fte_per_step(self) -> float | None: ...

    def view(self) -> StudyView: ...

    def should_stop(self, trial: Trial) -> str | None: ...

    def trial_directory(self, number: int) -> Path: ...

    @property
    def schedule(self) -> Schedule | None: ...

    def log_event(
        self, kind: str, message: str, trial: int | None = None, data: Mapping[str, Any] | None = None
    ) -> None: ...


class Trial:
    """One run of the user's function: what to train, for how long, and where to save it.

    ``fidelity`` is the step (e.g. epoch) to train up to. A promoted trial continues the
    trial named by ``continue_from``: ``restore`` loads that trial's checkpoint and returns
    the step it reached, so that only the missing steps are trained (and charged).
    """

    def __init__(self, study: TrialHost, record: TrialRecord, budget: Budget | None = None) -> None:
        self.study = study
        self.record = record
        #: The budget this run was admitted under: a run that trains past its plan is cut at it.
        self.budget = budget
        self.number = record.number
        self.config: dict[str, Any] = dict(record.config)
        self.fidelity = _as_step(record.fidelity)
        full = study.full_fidelity
        #: The fidelity of one full run (the study's one, ``Study.full_fidelity``): define schedules on
        #: it, so that a fidelity is a prefix of the full run.
        self.max_fidelity = None if full is None else _as_step(full)
        self.continue_from = record.continue_from
        self.start_step: float = 0.0
        self.last_step: float | None = None
        self.stop_reason: str | None = None
        self._planned_cost: float | None = None
        #: The claim token this run holds the trial with; every write carries it (fencing).
        self.attempt: int | None = record.attempt or None
        #: Set when the store refused a write or a heartbeat: the next write raises ClaimLostError.
        self.claim_lost = False
        self._restored = False
        #: How this run trains on this machine (device, threads): set by the executor from the
        #: study's execution settings, never part of the configuration.
        self.run_settings = RunSettings()
        #: What the optimizer said of this run besides its configuration (``Proposal.info``).
        self.info: dict[str, Any] = dict(record.info)

    # ------------------------------------------------------------------ paths
    @property
    def directory(self) -> Path:
        """This trial's own folder (checkpoints, and any file the user wants to keep)."""
        return self.study.trial_directory(self.number)

    @property
    def objective_names(self) -> tuple[str, ...]:
        """The metrics the study ranks on (its objectives' names): compute each one your function can."""
        return tuple(o.name for o in self.study.objectives)

    @property
    def checkpoint_path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    def config_at(self, step: float) -> dict[str, Any]:
        """The configuration for the epoch that ends at ``step``: the study's fixed schedule applied, if it has one."""
        schedule = self.study.schedule
        return dict(self.config) if schedule is None else schedule.apply(self.config, step)

    # -------------------------------------------------------------- reporting
    def report(self, step: float, **metrics: Any) -> None:
        """Record one point of the learning curve (e.g. after each epoch)."""
        if not metrics:
            raise TrialError(f"trial {self.number}: report({step}) needs at least one metric")
        clean: dict[str, Any] = {}
        for key, value in metrics.items():
            if hasattr(value, "tolist") and callable(value.tolist):
                value = value.tolist()  # numpy and torch: scalars to numbers, arrays to lists
            clean[key] = value
        self._check_claim()
        if not self.study.store.add_observation(self.study.id, self.number, float(step), clean, attempt=self.attempt):
            self._lose_claim("report")
        self.last_step = float(step)

    def should_stop(self) -> bool:
        """Whether the scheduler wants this trial to stop now (its curve fell below a rung's cut)."""
        if self.stop_reason is not None:
            return True
        reason = self._over_budget() or self.study.should_stop(self)
        if reason:
            self.stop_reason = reason
            self.study.log_event("stopped", reason, self.number, {"step": self.last_step})
            return True
        return False

    def _over_budget(self) -> str | None:
        """Why this run must stop for the budget: it trained past its plan and the study reached the budget.

        A run within its planned cost never needs this check (its cost was promised when it
        started); one that restored less than planned (a missing checkpoint) or trains past
        its fidelity is cut once the study as a whole has spent the budget.
        """
        per_step = self.study.fte_per_step
        if self.budget is None or self.budget.fte is None or per_step is None or self.last_step is None:
            return None
        if self._planned_cost is None:
            self._planned_cost = planned_cost(self.fidelity, self.continue_from, self.study.view().trials, per_step)
        excess = (self.last_step - self.start_step) * per_step - self._planned_cost
        if excess <= EPSILON_FTE:
            return None
        history = self.study.view().trials  # what changed since the last look, not the whole study
        if committed_fte(history, per_step) + excess < self.budget.fte - EPSILON_FTE:
            return None
        return (
            f"budget: this run trained {excess:.3g} FTE past its plan and the study reached its "
            f"{self.budget.fte:g} FTE budget, so it was cut at step {self.last_step:g}"
        )

    # ------------------------------------------------------------ checkpoints
    def checkpoint(self, step: float, **objects: Any) -> None:
        """Save the state dicts of the given models, optimizers and schedulers, plus RNG states."""
        self._check_claim()
        if not self.study.store.holds(self.study.id, self.number, self.attempt):
            self._lose_claim("checkpoint")
        save_checkpoint(self.directory, step, objects, CheckpointOwner(self.study.uid, self.number))
        if self.last_step is None or step > self.last_step:
            self.last_step = float(step)

    def restore(self, **objects: Any) -> int:
        """Load the latest state into the given objects; return the step reached (0 when fresh).

        A trial resumed after an interruption loads its own checkpoint; a promoted trial
        loads the checkpoint of the trial it continues. A missing checkpoint means training
        from scratch, which is logged and charged as such.
        """
        self._restored = True
        candidates: list[tuple[str, Path]] = [("own", self.checkpoint_path)]
        if self.continue_from is not None:
            candidates.append(
                (f"trial {self.continue_from}", self.study.trial_directory(self.continue_from) / CHECKPOINT_FILE)
            )
        for source, path in candidates:
            if path.exists():
                max_step = None if self.fidelity is None else float(self.fidelity)
                step = load_checkpoint(path, objects, CheckpointOwner(self.study.uid, self.number), max_step=max_step)
                self._mark_start(step)
                if source != "own":
                    log.debug("trial %s continues %s from step %s", self.number, source, step)
                return int(step) if float(step).is_integer() else step  # type: ignore[return-value]
        if self.continue_from is not None:
            self.study.store.add_event(
                self.study.id,
                "missing_checkpoint",
                f"trial {self.number} should continue trial {self.continue_from}, whose checkpoint is "
                "missing; it trains from scratch and is charged for it",
                self.number,
            )
        self._mark_start(0.0)
        return 0

    def _mark_start(self, step: float) -> None:
        """Remember (here and in the store) the step this run starts from: it is charged from there on."""
        self.start_step = float(step)
        if not self.study.store.set_start_step(self.study.id, self.number, None, float(step), attempt=self.attempt):
            self._lose_claim("restore")
        self._check_run_fits(float(step))

    def _check_run_fits(self, step: float) -> None:
        """Refuse, before training, a run the budget can no longer pay for.

        A trial was promised its planned cost when it was admitted. A retry is promised it again
        although its lost runs were charged for what they reported, and its checkpoint may lie
        behind that (a worker killed between a report and its checkpoint); a run that restored
        less than planned trains more than it was promised. Either may no longer fit: then the
        run stops here (``BudgetSpentError``: the trial ends ``lost``, nothing trained) rather
        than take the study past its budget.
        """
        per_step = self.study.fte_per_step
        if self.budget is None or self.budget.fte is None or per_step is None or self.fidelity is None:
            return
        history = self.study.view().trials
        planned = planned_cost(self.fidelity, self.continue_from, history, per_step)
        needed = max(0.0, float(self.fidelity) - step) * per_step
        if (self.attempt or 1) <= 1 and needed <= planned + EPSILON_FTE:
            return  # a first run within its plan: admitted, so it fits
        projected = committed_fte(history, per_step) - planned + needed
        if projected <= self.budget.fte + EPSILON_FTE:
            return
        charged = next((t.cost_fte for t in history if t.number == self.number), 0.0)
        raise BudgetSpentError(
            f"trial {self.number} was not resumed: its earlier runs were charged {charged:.3g} FTE, and training "
            f"it from step {step:g} to {float(self.fidelity):g} ({needed:.3g} FTE) would take the study to "
            f"{projected:.3g} of its {self.budget.fte:g} FTE budget"
        )

    # ---------------------------------------------------------------- fencing
    def _check_claim(self) -> None:
        if self.claim_lost:
            self._lose_claim("write")

    def _lose_claim(self, what: str) -> None:
        """Stop this run: the trial was taken from this worker, so nothing it writes may count."""
        self.claim_lost = True
        raise ClaimLostError(
            f"trial {self.number}: this worker lost its claim (run {self.attempt}) before its {what}: the trial "
            "was returned to the queue (no heartbeat for too long?) or finished by another worker; this run stops "
            "and its results are not recorded"
        )

    # ------------------------------------------------------------------- cost
    def steps_trained(self, finished: bool) -> tuple[float, float]:
        """(start, end) steps this run trained; the end is the fidelity when nothing else says."""
        end = self.last_step
        if end is None:
            end = self.fidelity if (finished and self.fidelity is not None) else self.start_step
        return self.start_step, max(end, self.start_step)

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, fidelity={self.fidelity}, config={self.config!r})"


def _as_step(value: float | None) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value) if float(value).is_integer() else float(value)
