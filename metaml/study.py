"""Study: the user's handle on a search — create or load it, ask/tell, optimize, read results."""

from __future__ import annotations

import logging
import os
import platform
import socket
import sys
import time
import traceback as tb
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from metaml._version import __version__
from metaml.budget import Budget, parse_budget
from metaml.core.interventions import INTERVENTION, interventions_of
from metaml.core.metadata import StudyMetadata
from metaml.core.records import DETAILS_KEY
from metaml.core.schedule import Schedule
from metaml.core.view import StudyView
from metaml.core.warm_start import warm_start_from_info, warm_start_to_info
from metaml.errors import MetamlError, ObjectiveError, SpaceError, StoreError, TrialError
from metaml.execution.dispatch import execute
from metaml.execution.functions import FunctionRef
from metaml.execution.outcome import run_outcome
from metaml.execution.settings import ExecutionSettings
from metaml.execution.signals import parent_alive
from metaml.execution.worker import worker_id
from metaml.final_evaluation import evaluate_front
from metaml.interventions import Steerable
from metaml.objectives import (
    Objective,
    Reference,
    check_metrics,
    parse_objectives,
    steer_limits,
)
from metaml.optimizers import Optimizer, make_optimizer
from metaml.optimizers.registry import parse_spec, stored_settings
from metaml.results import StudyResults, is_feasible
from metaml.space import Space
from metaml.spending import admit, budget_left, consecutive_failures
from metaml.store import (
    Changes,
    Event,
    Observation,
    Proposal,
    SQLStore,
    StudyRecord,
    TrialRecord,
    TrialStatus,
    open_store,
)
from metaml.trial import Trial
from metaml.warm_start import describe as describe_warm_start
from metaml.warm_start import parse_sources, read_warm_start

log = logging.getLogger(__name__)

#: Seconds without a heartbeat after which a running trial counts as lost.
STALE_AFTER_S = 60.0
#: How often a lost trial is retried before it is recorded as lost for good.
MAX_RETRIES = 2
#: Decisions made outside the write lock that may be overtaken by other workers' changes
#: before one decides under the lock instead.
OPTIMISTIC_DECISIONS = 4


def default_store(name: str) -> Path:
    """Where a study's SQLite file lives when no store is named: ``runs/<name>/study.db``."""
    return Path("runs") / name / "study.db"


class Study(Steerable):
    """A search over one space against one or more objectives, backed by a store.

    Experts steer it through events (``pin``, ``unpin``, ``prior``, ``narrow``, ``limit``,
    ``note``, ``enqueue`` with an author: ``metaml.interventions``); ``objectives`` are the
    study's own with the limits set so far, ``space`` is the study's own and ``steered_space``
    the one the next decision searches.
    """

    def __init__(self, store: SQLStore, record: StudyRecord) -> None:
        self.store = store
        self.record = record
        self.id = record.id
        self.name = record.name
        self.space = Space.from_dict(record.space)
        #: The objectives the study was created with; ``objectives`` adds the limits set since.
        self.base_objectives = parse_objectives(record.objectives)
        self.objectives = steer_limits(self.base_objectives, interventions_of(store.events(record.id, [INTERVENTION])))
        self.seed = record.seed
        #: This study's identity: written into every checkpoint and checked on restore, so that
        #: a study never loads another's weights (None for studies made before identities).
        self.uid: str | None = record.metadata.uid
        self.optimizer: Optimizer = make_optimizer(  # on the study's own objectives: it steers itself by the view
            {"name": record.optimizer, **stored_settings(record.optimizer, record.optimizer_settings)},
            self.space, self.base_objectives, self.seed,
        )
        self.artifacts = Path(record.metadata.artifacts or default_store(record.name).parent / "artifacts")
        # the earlier studies it learns from ride on the view the optimizer reads (frozen at creation)
        self._view = StudyView(warm_start=warm_start_from_info(record.metadata.warm_start))
        #: Whether this call of ``Study.create`` made the study (False when it was loaded): of
        #: several processes starting the same new study, exactly one has True.
        self.created_now = False

    # ------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        name: str,
        space: Space | Mapping[str, Any],
        objectives: Sequence[Objective | str | Mapping[str, Any]] | Objective | str,
        store: str | Path | SQLStore | None = None,
        optimizer: str | Mapping[str, Any] | Optimizer | None = "random",
        seed: int = 0,
        artifacts: str | Path | None = None,
        info: Mapping[str, Any] | None = None,
        load_if_exists: bool = False,
        warm_start: Sequence[Mapping[str, Any] | Study] | None = None,
    ) -> Study:
        """Create a study in the store (a SQLite file ``runs/<name>/study.db`` by default).

        With ``load_if_exists`` an existing study of that name is resumed, provided its
        space, objectives and optimizer are the same.

        ``warm_start`` names earlier studies to learn from (``{"study": NAME, "store": URL}``,
        the store defaulting to this one, or loaded ``Study`` objects): their trials are read
        once, matched into this space and frozen into this study's metadata; they cost 0 FTE
        here and are never this study's trials (``metaml.warm_start``). With ``optimizer="auto"``
        the transfer optimizer is chosen.
        """
        if not isinstance(name, str) or not name.strip() or name in (".", "..") or any(c in name for c in "/\\\0"):
            # the name is a folder under artifacts/: '../x' or 'a/b' would put checkpoints outside it
            raise MetamlError(
                f"a study needs a non-empty name that is one folder name (no '/', '\\', '..' alone, or NUL), got {name!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**63:
            # numpy's generators take seeds in [0, 2**63): a bad one would fail at the first decision
            raise MetamlError(f"a study's seed must be a whole number from 0 to 2**63 - 1, got {seed!r}")
        seed = int(seed)
        space = space if isinstance(space, Space) else Space(space) if _is_parameters(space) else Space.from_dict(space)
        objs = parse_objectives(objectives)
        db = open_store(store if store is not None else default_store(name))
        sources = parse_sources(warm_start)
        if sources and _is_plain_auto(optimizer):
            optimizer = {"name": "auto", "warm_start": True}  # auto picks the transfer method
        built = make_optimizer(optimizer, space, objs, seed)  # fails early on a bad name or setting
        opt_name = built.name
        settings = built.settings
        # the settings the caller named: only these must match a stored study's (a default changed since is not asked)
        asked = set(parse_spec(optimizer)[1]) & set(settings) if not isinstance(optimizer, Optimizer) else set(settings)
        if artifacts is None:
            artifacts = _default_artifacts(db, name)
        def existing() -> Study | None:
            """The study of that name when it may be resumed (checked to be the same), else None."""
            if not (load_if_exists and name in db.list_studies()):
                return None
            study = cls(db, db.get_study(name))
            study._check_same(space, objs, opt_name, {k: settings.get(k) for k in asked})
            stored = [p.name for p in study.view().warm_start]
            if sources and [s.study for s in sources] != stored:
                raise StoreError(f"study {name!r} already exists in {db.safe_url} warm-started from {stored or 'nothing'}, "
                                 f"not from {[s.study for s in sources]}: give the new study another name")
            return study

        if (found := existing()) is not None:
            return found
        priors = read_warm_start(sources, space, objs, db, name)
        extra_info = {"warm_start": warm_start_to_info(priors)} if priors else {}
        try:
            record = db.create_study(
                name,
                space.to_dict(),
                [o.to_dict() for o in objs],
                opt_name,
                settings,
                seed,
                # the caller's own keys are kept beside the typed fields (StudyMetadata.extra)
                StudyMetadata.from_info({**_creation_info(), "artifacts": str(Path(artifacts).resolve()),
                                         **dict(info or {}), **extra_info, "uid": uuid.uuid4().hex}).to_info(),
            )
        except StoreError as exc:
            if (found := existing()) is None:  # another process may have created it a moment ago
                if not load_if_exists and name in db.list_studies():
                    raise StoreError(
                        f"{exc}: pass load_if_exists=True to resume it, or give the new study another name"
                    ) from None
                raise
            return found
        study = cls(db, record)
        study.created_now = True
        db.add_event(study.id, "created", f"study {name!r} created with optimizer {opt_name} (seed {seed})", data={"settings": settings})
        if priors:
            db.add_event(study.id, "warm_start", describe_warm_start(priors), data={"sources": [
                {"name": p.name, "store": p.store, "uid": p.uid, "observations": len(p.observations),
                 "n_trials": p.n_trials, "cost_fte": p.cost_fte, "notes": list(p.notes),
                 "objectives": dict(p.objectives)} for p in priors]})
        return study

    @classmethod
    def load(cls, name: str, store: str | Path | SQLStore | None = None) -> Study:
        """Open an existing study; an unknown name says which studies the store holds."""
        db = open_store(store if store is not None else default_store(name), create=False)
        return cls(db, db.get_study(name))

    def _check_same(self, space: Space, objectives: Sequence[Objective], optimizer: str, asked: Mapping[str, Any]) -> None:
        """Refuse to resume a stored study with another space, objectives, optimizer, or optimizer setting asked.

        Only the settings the caller named (``asked``, as the optimizer normalizes them) are compared, with the
        stored settings as this version rebuilds them: a setting left out takes the stored study's value, so a
        study made before a setting existed, or before a default changed, resumes as it was made.
        """
        problems = []
        if space != self.space:
            changes = space_changes(self.space.to_dict(), space.to_dict())
            problems.append(f"space ({'; '.join(changes[:5])})" if changes else "space")
        if tuple(objectives) != self.base_objectives:
            problems.append("objectives")
        stored = self.optimizer.settings
        if optimizer != self.record.optimizer or any(stored.get(k) != v for k, v in asked.items()):
            problems.append("optimizer")
        if problems:
            raise StoreError(
                f"study {self.name!r} already exists in {self.store.safe_url} with a different "
                f"{' and '.join(problems)}: give the new study another name, or use another store"
            )

    # ----------------------------------------------------------------- ask/tell
    def ask(
        self, worker: str | None = None, budget: Budget | None = None, *, max_failures: int | None = None
    ) -> Trial | None:
        """Claim the next trial: a queued one first, else the optimizer's proposal (None: nothing now).

        With a budget, a new trial starts only if its planned cost fits in what is neither
        spent nor promised to running trials (``metaml.spending``). With ``max_failures``,
        nothing new is proposed once that many trials in a row have failed.

        The decision is made outside the store's write lock, on this process's view of the
        study (brought up to date by reading what changed), and committed only if no trial
        changed state meanwhile; otherwise it is made again on the new picture. So a slow
        model fit never holds up other workers' reports, and many workers never overshoot
        the budget together. A study that keeps changing under the decision falls back to
        deciding under the lock, which always makes progress.
        """

        def decide(view: StudyView) -> Proposal | None:
            history = view.trials
            if budget is not None and not budget_left(history, budget, self.fte_per_step):
                return None
            if max_failures is not None and consecutive_failures(history) >= max_failures:
                return None
            proposal = self.optimizer.decide(view)  # on the space and limits as the experts steered them
            if proposal is None or not admit(proposal, history, budget, self.fte_per_step).admitted:
                return None
            try:
                config = self.space_as_of(view).validate(proposal.config)
            except SpaceError as exc:
                raise MetamlError(f"optimizer {self.optimizer.name} proposed a bad configuration: {exc}") from None
            return Proposal(config, proposal.fidelity, proposal.continue_from, proposal.reason, proposal.info)

        worker = worker or worker_id()
        record: TrialRecord | None = None
        for _ in range(OPTIMISTIC_DECISIONS):
            record = self.store.claim_pending(self.id, worker)
            if record is not None:
                return Trial(self, record, budget)
            view = self.view()
            proposal = decide(view)
            if proposal is None:
                return None
            record = self.store.commit_proposal(self.id, worker, proposal, view.version)
            if record is not None:
                return Trial(self, record, budget)
        record = self.store.ask(self.id, worker, lambda changes: decide(self._advance(changes)), self._view.cursor)
        return None if record is None else Trial(self, record, budget)

    def view(self) -> StudyView:
        """This process's picture of the study, brought up to date by reading only what changed."""
        return self._advance(self.store.snapshot(self.id, self._view.cursor))

    def _advance(self, changes: Changes) -> StudyView:
        before = self._view.interventions
        self._view = self._view.apply(changes)
        if self._view.interventions is not before:  # a limit set since re-ranks the front and the best at once
            self.objectives = steer_limits(self.base_objectives, self._view.interventions)
        return self._view

    def enqueue(self, config: Mapping[str, Any], fidelity: float | None = None, reason: str = "", *,
                author: str | None = None) -> TrialRecord:
        """Queue a configuration of the user's own (e.g. the default one); it runs before new proposals.

        It is checked against the space as steered so far. With ``author`` (``metaml enqueue``
        gives the login name) it is also an intervention, logged with its author and reason.
        """
        checked = self.check_config(config)
        if fidelity is None:
            fidelity = self.full_fidelity
        info = {} if author is None else {"author": author}
        record = self.store.enqueue(self.id, Proposal(checked, fidelity, None, reason or "enqueued by the user", info))
        if author is not None:
            self.record_enqueued(record.number, checked, author, reason)
        return record

    def tell(
        self,
        trial: Trial | int,
        metrics: Mapping[str, Any] | None = None,
        *,
        error: BaseException | str | None = None,
        traceback: str | None = None,
    ) -> TrialRecord:
        """Record a trial's result, or its failure; bad metrics turn the trial into a failure with the reason."""
        if not isinstance(trial, Trial):
            trial = Trial(self, self.store.trial(self.id, int(trial)))
        status = TrialStatus.COMPLETED
        clean: dict[str, float] | None = None
        message: str | None = None
        if error is None:
            try:
                clean = check_metrics(self.objectives, metrics)
            except ObjectiveError as exc:
                status, message = TrialStatus.FAILED, str(exc)
                clean = _finite_only(metrics)
            else:
                if trial.stop_reason:
                    status = TrialStatus.PRUNED
        else:
            status = TrialStatus.FAILED
            if isinstance(error, BaseException):
                message = f"{type(error).__name__}: {error}"
                traceback = traceback or "".join(tb.format_exception(type(error), error, error.__traceback__))
            else:
                message = str(error)
        start, end = trial.steps_trained(finished=status is not TrialStatus.FAILED)
        cost = self._cost(start, end, status)
        details = metrics.get(DETAILS_KEY) if isinstance(metrics, Mapping) and error is None else None
        recorded = self.store.finish(
            self.id, trial.number, status, metrics=clean, start_step=start, end_step=end,
            cost_fte=cost, error=message, traceback=traceback, attempt=trial.attempt,
            info={DETAILS_KEY: dict(details)} if isinstance(details, Mapping) else None,
        )
        record = self.store.trial(self.id, trial.number)
        if recorded:  # a late or second tell (the trial was finished or requeued meanwhile) changes nothing
            self.optimizer.tell(record)
        return record

    @property
    def full_fidelity(self) -> float | None:
        """The fidelity of one full run, the study's one: the top of the optimizer's ladder.

        With ``Fidelity(1, 27)`` and ``hyperband`` ``max_fidelity: 9`` it is 9: trials build their
        schedules on it, the front is made of runs that reach it, and one run to it costs one
        FTE. None when the space has no fidelity.
        """
        return self.optimizer.full_fidelity

    @property
    def schedule(self) -> Schedule | None:
        """The fixed schedule every trial of this study replays (set at creation), or None."""
        data = self.record.metadata.schedule
        return None if not data else Schedule.from_dict(data)

    @property
    def fte_per_step(self) -> float | None:
        """What one step of training costs in FTE (None without a fidelity: every run is one FTE)."""
        full = self.full_fidelity
        return None if full is None else 1.0 / float(full)

    def requeue(self, trial: Trial | int, reason: str, *, count_retry: bool = False) -> bool:
        """Return a running trial to the queue (e.g. interrupted), charging the steps its run reported."""
        number = trial.number if isinstance(trial, Trial) else int(trial)
        attempt = trial.attempt if isinstance(trial, Trial) else None
        return self.store.requeue(
            self.id, number, reason, count_retry=count_retry, fte_per_step=self.fte_per_step, attempt=attempt
        )

    def _cost(self, start: float, end: float, status: TrialStatus) -> float:
        full = self.full_fidelity
        if full is None:
            # without a fidelity every run is a full run, unless it failed before reporting anything
            return 0.0 if status is TrialStatus.FAILED and end <= start else 1.0
        return max(0.0, (end - start) / float(full))

    def should_stop(self, trial: Trial) -> str | None:
        """Why the optimizer wants ``trial`` stopped now, or None (asked on each report)."""
        if type(self.optimizer).should_stop is Optimizer.should_stop:
            return None  # this optimizer never stops trials: spare the queries
        view = self.view()  # a few rows read, whatever the size of the study
        current = view.trial(trial.number) or trial.record
        return self.optimizer.decide_stop(view, current)

    # ----------------------------------------------------------------- running
    def optimize(
        self,
        fn: Callable[..., Mapping[str, Any]] | FunctionRef,
        budget: Budget | int | Mapping[str, Any] | str,
        *,
        workers: int | None = None,
        settings: ExecutionSettings | Mapping[str, Any] | None = None,
        on_trial: Callable[[TrialRecord], None] | None = None,
        progress: bool = False,
    ) -> list[TrialRecord]:
        """Run ``fn(config, trial)`` until the budget is spent; return the trials that finished.

        ``progress=True`` shows ``metaml run``'s live display (trials, FTE of the budget, time
        left, the best, the running trials) on the terminal while it runs.

        One worker runs trials in this process; ``workers=N`` (or a timeout or memory limit in
        ``settings``) runs them in N spawned processes, which needs ``fn`` defined at the top
        level of a module.
        """
        chosen = settings if isinstance(settings, ExecutionSettings) else ExecutionSettings.from_dict(settings)
        if workers is not None:
            chosen = chosen.with_overrides(workers=workers)
        started = time.time()
        chosen_budget = parse_budget(budget)
        if progress:
            from rich.console import Console

            from metaml.progress import live_progress

            def run(show: Callable[[TrialRecord], None]) -> list[TrialRecord]:
                def both(record: TrialRecord) -> None:
                    show(record)
                    if on_trial is not None:
                        on_trial(record)

                return execute(self, fn, chosen_budget, chosen, on_trial=both)

            done = live_progress(self, chosen_budget, started, Console(), run)
        else:
            done = execute(self, fn, chosen_budget, chosen, on_trial=on_trial)
        outcome = run_outcome(self, chosen_budget, chosen, started)
        if outcome.first_traceback is not None:
            raise TrialError(f"study {self.name!r} {outcome.reason}\nthe first failure was:\n{outcome.first_traceback}")
        if not outcome.complete:
            log.warning("study %r: %s", self.name, outcome.reason)
        return done

    def recover_lost(
        self, stale_after: float = STALE_AFTER_S, max_retries: int = MAX_RETRIES, timeout: float | None = None
    ) -> list[int]:
        """Return trials whose worker died to the queue (or mark them lost past the retry limit).

        With ``timeout``, a trial running longer than that is failed here, by whichever
        process sees it first: its own worker (fenced off) stops at its next report.
        """
        touched = self.store.recover_stale(self.id, stale_after, max_retries, self.fte_per_step)
        host = socket.gethostname()
        now = time.time()
        for t in self.store.trials(self.id, [TrialStatus.RUNNING]):
            if timeout is not None and t.started_at is not None and now - t.started_at > timeout:
                message = f"timed out: ran for more than {timeout:g} s (failed by {worker_id()}; its worker is fenced off)"
                if self.store.finish(self.id, t.number, TrialStatus.FAILED, error=message, fte_per_step=self.fte_per_step,
                                     attempt=t.attempt):
                    touched.append(t.number)
                continue
            # A worker on this machine whose process is gone needs no heartbeat to be known dead.
            if t.worker and t.worker.rsplit(":", 1)[0] == host and not _pid_alive(t.worker.rsplit(":", 1)[-1]):
                touched += self.worker_died(t.worker, "is no longer running", max_retries, [t])
        return touched

    def worker_died(
        self, worker: str, how: str, max_retries: int = MAX_RETRIES, running: Sequence[TrialRecord] | None = None
    ) -> list[int]:
        """Requeue (or, past ``max_retries``, mark lost) the trials ``worker`` held when it died ``how``.

        Each is charged for the steps its run reported; the reason names how the worker ended
        (the signal or exit code), so a segfault is on the record, not only a missing heartbeat.
        Only the claim that was seen is ended: ``running`` may be a moment old, and a trial
        requeued meanwhile by another supervisor and claimed by a live worker stays its.
        """
        touched = []
        held = running if running is not None else self.store.trials(self.id, [TrialStatus.RUNNING])
        for t in held:
            if t.worker != worker or t.status is not TrialStatus.RUNNING:
                continue
            if t.retries >= max_retries:
                error = f"lost: its worker {worker} {how}, {t.retries + 1} times; retry limit {max_retries} reached"
                done = self.store.finish(
                    self.id, t.number, TrialStatus.LOST, error=error, fte_per_step=self.fte_per_step, attempt=t.attempt
                )
            else:
                reason = f"lost: its worker {worker} {how}; returned to the queue (retry {t.retries + 1} of {max_retries})"
                done = self.store.requeue(
                    self.id, t.number, reason, count_retry=True, fte_per_step=self.fte_per_step, attempt=t.attempt
                )
            if done:
                touched.append(t.number)
        return touched

    # ----------------------------------------------------------------- results
    @property
    def metadata(self) -> StudyMetadata:
        """What the study records about itself (identity, provenance, what a worker needs), read now."""
        return self.store.get_study(self.name).metadata

    def update_metadata(self, **changes: Any) -> None:
        """Record ``changes`` to the study's metadata (``StudyMetadata`` fields; an unknown one is refused)."""
        self.store.update_study_info(self.id, StudyMetadata.encode(**changes))

    @property
    def store_url(self) -> str:
        """The store's URL with any password masked: what outputs may show."""
        return self.store.safe_url

    def log_event(self, kind: str, message: str, trial: int | None = None, data: Mapping[str, Any] | None = None) -> None:
        """Add an entry to the study's decision log (``metaml log``, the report's audit trail)."""
        self.store.add_event(self.id, kind, message, trial, dict(data or {}))

    def events(self, kinds: Sequence[str] | None = None) -> list[Event]:
        """The decision log, oldest first (of the given kinds only, when given)."""
        return self.store.events(self.id, None if kinds is None else list(kinds))

    def observations(self) -> list[Observation]:
        """Every learning-curve point of every trial, in the order they were reported."""
        return self.store.observations(self.id)

    def trials(self, statuses: Sequence[TrialStatus | str] | None = None) -> list[TrialRecord]:
        """Every trial (or those with the given statuses), ordered by number."""
        wanted = None if statuses is None else [TrialStatus(s) for s in statuses]
        return self.store.trials(self.id, wanted)

    def cost_fte(self) -> float:
        """Total cost so far in full-training equivalents."""
        return self.results().cost_fte

    @property
    def artifacts_directory(self) -> Path:
        """This study's own folder of checkpoints: named after the study and its identity.

        Two studies of one name (in two store files beside each other, or one made again after
        its store was deleted) thus never share checkpoints; studies made before identities
        keep their old folder, ``<artifacts>/<name>``.
        """
        return self.artifacts / (self.name if self.uid is None else f"{self.name}-{self.uid[:12]}")

    def trial_directory(self, number: int) -> Path:
        """Where trial ``number`` keeps its checkpoint; studies sharing an artifacts folder never collide."""
        return self.artifacts_directory / f"trial-{number:05d}"

    def results(self, trials: Sequence[TrialRecord] | None = None) -> StudyResults:
        """What the study's trials (or ``trials``) add up to: front, best, cost, hypervolume (``metaml.results``).

        Read from this process's view of the study, brought up to date by what changed.
        """
        picture = self.view().trials if trials is None else tuple(trials)
        return StudyResults(tuple(picture), self.objectives, self.full_fidelity)

    def feasible(self, record: TrialRecord) -> bool:
        """Whether a trial's metrics respect every objective's limit."""
        return is_feasible(record, self.objectives)

    def pareto_front(self) -> list[TrialRecord]:
        """Non-dominated completed trials at full fidelity that respect every limit."""
        return self.results().front

    def best(self, objective: str | None = None) -> TrialRecord | None:
        """The front member best on ``objective`` (the first objective by default), or None without a front.

        Always a member of ``pareto_front()``: trials that tie on the objective go to the one
        better on the others (in their order), then to the earlier trial.
        """
        return self.results().best(objective)

    def reference(self, trials: Sequence[TrialRecord] | None = None) -> Reference:
        """The hypervolume reference point and how it moved, from the results in the order they finished.

        One rule for every output (``metaml.objectives.hypervolume_reference``): the limits
        where given; else fixed by the first full-fidelity result and widened whenever a
        later front member lies outside it. It is a function of the store's history, so
        the progress line, ``metaml status``, ``metaml pareto`` and the report agree.
        """
        return self.results(trials).reference

    def reference_point(self) -> np.ndarray | None:
        """The hypervolume reference point (lower is better in every column); None before any result.

        Without a limit on every objective there is none before the first full-fidelity result.
        """
        return self.reference().array()

    def record_reference(self) -> Reference:
        """Store the reference point in the study's info, with an event for each move not yet recorded.

        ``metaml run`` calls it after every trial, so that the decision log says when and why
        the reference moved; reading commands leave the store untouched.
        """
        ref = self.reference()
        known_point = self.metadata.reference_point
        stored = None if known_point is None else list(known_point)
        if ref.point is None or stored == list(ref.point):
            return ref
        known = [i for i, c in enumerate(ref.changes) if stored == list(c.after)]
        for change in ref.changes[known[-1] + 1 if known else 0:]:
            by = "the limits" if change.trial is None else f"trial {change.trial}"
            if change.before is None:
                message = f"hypervolume reference point fixed at {list(change.after)} by {by}"
            else:
                moved = ", ".join(self.objectives[j].name for j in change.columns)
                message = (f"hypervolume reference point widened from {list(change.before)} to {list(change.after)}: "
                           f"{by} joined the front outside it on {moved}")
            self.store.add_event(self.id, "reference_point", message, change.trial,
                                 {"before": None if change.before is None else list(change.before),
                                  "after": list(change.after), "objectives": [self.objectives[j].name for j in change.columns]})
        self.update_metadata(reference_point=tuple(ref.point))
        return ref

    def hypervolume(self) -> float:
        """Hypervolume of the Pareto front against ``reference_point()`` (0 without a front)."""
        return self.results().hypervolume

    def evaluate_front(self, function: Any = None) -> Any:
        """The front's test metrics, each model scored once after the search (see ``metaml.final_evaluation``)."""
        return evaluate_front(self, function)

    def front_note(self) -> str | None:
        """Why the front is empty, in words, or None when it is not."""
        return self.results().front_note()

    def __repr__(self) -> str:
        return f"Study({self.name!r}, store={self.store.safe_url!r})"


def _default_artifacts(db: SQLStore, name: str) -> Path:
    """Checkpoints go beside a SQLite file; elsewhere (PostgreSQL, memory) under runs/<name>/."""
    from sqlalchemy.engine import make_url

    database = make_url(db.url).database if db.is_sqlite else None
    if database and database != ":memory:" and not database.startswith("file:"):
        return Path(database).parent / "artifacts"
    return default_store(name).parent / "artifacts"


def space_changes(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """What differs between two spaces as plain data, by parameter: 'x: upper 1 -> 2', 'y added'."""
    out: list[str] = []
    for name in [*old, *(k for k in new if k not in old)]:
        where = f"{prefix}{name}"
        if name not in new:
            out.append(f"{where!r} removed")
        elif name not in old:
            out.append(f"{where!r} added")
        elif old[name] != new[name]:
            a, b = old[name], new[name]
            if not (isinstance(a, Mapping) and isinstance(b, Mapping)):
                out.append(f"{where!r}: {a!r} -> {b!r}")
                continue
            ca, cb = _choices(a.get("choices")), _choices(b.get("choices"))
            if ca is not None and cb is not None:
                for choice in [*ca, *(c for c in cb if c not in ca)]:
                    if choice not in cb or choice not in ca:
                        out.append(f"{where!r}: choice {choice!r} {'removed' if choice in ca else 'added'}")
                    else:
                        out += space_changes(ca[choice], cb[choice], f"{where}.{choice}.")
            fields = [k for k in [*a, *(k for k in b if k not in a)] if k != "choices" and a.get(k) != b.get(k)]
            out += [f"{where!r}: {k} {a.get(k)!r} -> {b.get(k)!r}" for k in fields]
    return out


def _choices(value: Any) -> dict[Any, Mapping[str, Any]] | None:
    """A categorical's choices as a mapping of choice to its sub-space (a plain list has empty ones)."""
    if isinstance(value, Mapping):
        return {k: v if isinstance(v, Mapping) else {} for k, v in value.items()}
    if isinstance(value, list):
        return {c if isinstance(c, (str, int, float, bool)) else repr(c): {} for c in value}
    return None


def _is_plain_auto(optimizer: Any) -> bool:
    """Whether the optimizer is ``auto`` with nothing chosen yet (so that a warm start may steer it)."""
    if optimizer == "auto":
        return True
    return isinstance(optimizer, Mapping) and optimizer.get("name") == "auto" and "chosen" not in optimizer


def _is_parameters(space: Mapping[str, Any]) -> bool:
    from metaml.space import Categorical, Constant, Fidelity, Float, Int

    return all(isinstance(v, (Float, Int, Categorical, Constant, Fidelity)) for v in space.values())


def _finite_only(metrics: Mapping[str, Any] | None) -> dict[str, float] | None:
    if not isinstance(metrics, Mapping):
        return None
    out = {}
    for k, v in metrics.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v):
            out[str(k)] = float(v)
    return out or None


def _pid_alive(pid_text: str) -> bool:
    try:
        pid = int(pid_text)
    except ValueError:
        return True  # not a pid we can check: trust the heartbeat instead
    if pid == os.getpid():
        return True  # this process may be running it (another thread); a stale one shows in its heartbeat
    return parent_alive(pid)  # (a zombie counts as dead: it runs nothing)


def _creation_info() -> dict[str, Any]:
    return {
        "metaml_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "command": " ".join(sys.argv),
    }
