"""The test split, used once: each final Pareto-front model scored on it after the search.

The search sees validation metrics only. When a study of a built-in pipeline ends, each
trial on its Pareto front has its model restored from its last checkpoint (nothing is
trained again) and scored on the test rows; the ``test_`` metrics are written to the store
as one ``test_evaluation`` event per trial, and the study's info records the front they
belong to. Reports read them from there, beside (never mixed with) the validation front.

Scoring is idempotent: a trial already scored is never scored again, so rerunning
``metaml run`` on a finished study computes nothing; when the front changes, only its new
members are scored. A user's own function has no test split known to metaml, so it has no
test evaluation; a missing checkpoint is reported by trial, not raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from metaml.core.metadata import StudyMetadata
from metaml.core.records import DETAILS_KEY, Event, TrialRecord
from metaml.core.trial_context import RunSettings
from metaml.errors import MetamlError
from metaml.trial import TrialHost

log = logging.getLogger(__name__)

#: Event kinds: one per scored trial (data: the test metrics), one per trial that could not be scored.
EVENT = "test_evaluation"
FAILED_EVENT = "test_evaluation_failed"
#: What the report calls the section, so that no one reads it as what the search optimized.
TITLE = "test set (computed once, after the search)"


class EvaluatedStudy(TrialHost, Protocol):
    """What the final evaluation needs of a study (``metaml.Study`` is one; this module sits below it).

    A trial's host, plus the study's metadata, front and decision log.
    """

    @property
    def metadata(self) -> StudyMetadata: ...

    def update_metadata(self, **changes: Any) -> None: ...

    def pareto_front(self) -> list[TrialRecord]: ...

    def front_note(self) -> str | None: ...

    def events(self, kinds: Sequence[str] | None = None) -> list[Event]: ...


@dataclass(frozen=True)
class FinalEvaluation:
    """The test metrics of a study's current Pareto front, as stored (and what this call computed).

    ``status`` is ``evaluated`` (every front trial has test metrics), ``partial`` (some could
    not be scored: ``errors`` says why, by trial), ``not_evaluated`` (the front has trials
    not scored yet), ``no_front``, or ``not_builtin`` (a user's function: no test split).
    """

    status: str
    message: str
    front: tuple[int, ...] = ()
    results: dict[int, dict[str, float]] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    computed: tuple[int, ...] = ()
    evaluated_at: float | None = None
    #: What each trial's test metrics are made of: ``{"fairness": {...}, "intervals": {...}}`` by trial.
    details: dict[int, dict[str, Any]] = field(default_factory=dict)

    def metric_names(self) -> list[str]:
        """Every test metric some front trial has, in first-seen order."""
        return list(dict.fromkeys(k for n in self.front for k in self.results.get(n, {})))

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": TITLE,
            "status": self.status,
            "message": self.message,
            "front": list(self.front),
            "metric_names": self.metric_names(),
            "results": [
                {"number": n, "metrics": self.results.get(n), "error": self.errors.get(n),
                 "intervals": self.details.get(n, {}).get("intervals") or {},
                 "fairness": self.details.get(n, {}).get("fairness") or {}} for n in self.front
            ],
            "computed_now": list(self.computed),
            "evaluated_at": self.evaluated_at,
        }


def evaluate_front(
    study: EvaluatedStudy, function: str | Callable[..., Any] | None = None, *, run_settings: RunSettings | None = None
) -> FinalEvaluation:
    """Score each Pareto-front trial not yet scored on the test split; store and return the front's test metrics.

    ``function`` is the study's training function (``module:function`` or the callable);
    by default the one ``metaml run`` recorded in the study's info. ``run_settings`` (device,
    threads) default to the execution settings ``metaml run`` recorded.
    """
    from metaml.pipelines.baseline import builtin_pipeline

    function = function if function is not None else study.metadata.function
    front = sorted(study.pareto_front(), key=lambda t: t.number)
    spec = builtin_pipeline(function)
    if spec is None or spec.evaluate is None:
        why = _not_builtin(function) if spec is None else (
            f"no test evaluation: the {spec.name} pipeline has no held-out test split to score the front on (its "
            "metrics are those measured during the search)"
        )
        return _finish(study, FinalEvaluation("not_builtin", why, _numbers(front)), function)
    if not front:
        note = study.front_note() or "the front is empty"
        return _finish(study, FinalEvaluation("no_front", f"no Pareto front to evaluate: {note}"), function)
    stored, errors, computed = _score_missing(study, spec.evaluate, front, run_settings)
    numbers = _numbers(front)
    results = {n: stored[n] for n in numbers if n in stored}
    status = "evaluated" if not errors else "partial"
    message = (f"{len(results)} of {len(numbers)} front trials scored on the test split"
               + (f"; {len(computed)} now" if computed else "; nothing new to compute"))  # fmt: skip
    details = {n: d for n, d in stored_details(study).items() if n in results}
    return _finish(study, FinalEvaluation(status, message, numbers, results, errors, tuple(computed),
                                          details=details), function)  # fmt: skip


def score_trials(
    study: EvaluatedStudy,
    trials: Sequence[TrialRecord],
    function: str | Callable[..., Any] | None = None,
    *,
    run_settings: RunSettings | None = None,
) -> dict[int, dict[str, float]]:
    """Test metrics of the given finished trials (e.g. the default, for a benchmark), each scored at most once.

    A trial that cannot be scored is left out (its reason is logged and stored as a
    ``test_evaluation_failed`` event); a user's function gives an empty result.
    """
    from metaml.pipelines.baseline import builtin_pipeline

    spec = builtin_pipeline(function if function is not None else study.metadata.function)
    if spec is None or spec.evaluate is None:
        return {}
    stored, _, _ = _score_missing(study, spec.evaluate, trials, run_settings)
    return {t.number: stored[t.number] for t in trials if t.number in stored}


def _score_missing(
    study: EvaluatedStudy,
    evaluate: Callable[..., dict[str, Any]],
    trials: Sequence[TrialRecord],
    run_settings: RunSettings | None = None,
) -> tuple[dict[int, dict[str, float]], dict[int, str], list[int]]:
    """(every stored result, errors by trial, trials scored now): score the trials with no stored result."""
    stored = stored_results(study)
    failures = _stored_failures(study)
    run_settings = run_settings if run_settings is not None else recorded_run_settings(study)
    computed: list[int] = []
    errors: dict[int, str] = {}
    for trial in trials:
        if trial.number in stored:
            continue  # scored once already: the test split is used once per model
        try:
            scored = _score(study, evaluate, trial, run_settings)
        except Exception as exc:  # a damaged checkpoint, a changed pipeline, memory: one trial, not the study
            why = str(exc) if isinstance(exc, MetamlError) else f"{type(exc).__name__}: {exc}"
            errors[trial.number] = why
            if failures.get(trial.number) != why:
                study.log_event(FAILED_EVENT, why, trial.number)
            log.warning("test evaluation of trial %s: %s", trial.number, why)
            continue
        metrics, details = scored
        stored[trial.number] = metrics
        computed.append(trial.number)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        data: dict[str, Any] = {"metrics": metrics, "fidelity": trial.fidelity}
        if details:
            data[DETAILS_KEY] = details
        study.log_event(EVENT, f"trial {trial.number} on the test split: {shown}", trial.number, data)
    return stored, errors, computed


def stored_evaluation(study: EvaluatedStudy, front: Sequence[TrialRecord] | None = None) -> FinalEvaluation:
    """What the store holds for the current front (computes nothing: for reports and ``metaml pareto``)."""
    numbers = _numbers(front if front is not None else study.pareto_front())
    metadata = study.metadata
    info = metadata.test_evaluation or {}
    if info.get("status") == "not_builtin":
        return FinalEvaluation("not_builtin", str(info.get("message")), numbers)
    if metadata.function and not metadata.function.startswith("metaml.pipelines."):
        return FinalEvaluation("not_builtin", _not_builtin(metadata.function), numbers)
    stored, failures = stored_results(study), _stored_failures(study)
    results = {n: stored[n] for n in numbers if n in stored}
    details = {n: d for n, d in stored_details(study).items() if n in results}
    errors = {n: failures[n] for n in numbers if n not in stored and n in failures}
    when = info.get("evaluated_at")
    if not numbers:
        return FinalEvaluation("no_front", "no Pareto front to evaluate yet", evaluated_at=when)
    if len(results) == len(numbers):
        return FinalEvaluation("evaluated", "every front trial scored on the test split", numbers, results,
                               evaluated_at=when, details=details)  # fmt: skip
    if errors and len(results) + len(errors) == len(numbers):
        return FinalEvaluation("partial", f"{len(errors)} front trial(s) could not be scored", numbers, results,
                               errors, evaluated_at=when, details=details)  # fmt: skip
    missing = [n for n in numbers if n not in results and n not in errors]
    hint = "metaml run finishes with it" if info else "metaml run scores a built-in pipeline's front at its end"
    return FinalEvaluation("not_evaluated", f"front trial(s) {missing} not scored on the test split yet ({hint})",
                           numbers, results, errors, evaluated_at=when, details=details)  # fmt: skip


def stored_results(study: EvaluatedStudy) -> dict[int, dict[str, float]]:
    """The test metrics of every trial ever scored, by trial number (from the store's events)."""
    return {e.trial_number: dict(e.data.get("metrics") or {}) for e in _events(study, EVENT)
            if e.trial_number is not None}  # fmt: skip


def _stored_failures(study: EvaluatedStudy) -> dict[int, str]:
    return {e.trial_number: e.message for e in _events(study, FAILED_EVENT) if e.trial_number is not None}


def _events(study: EvaluatedStudy, kind: str) -> list[Event]:
    return study.events([kind])


def recorded_run_settings(study: EvaluatedStudy) -> RunSettings:
    """The device and threads of the execution settings ``metaml run`` recorded (none set: the space's)."""
    execution: Mapping[str, Any] = study.metadata.execution or {}
    return RunSettings(device=execution.get("device"), threads=execution.get("threads"))


def stored_details(study: EvaluatedStudy) -> dict[int, dict[str, Any]]:
    """What each scored trial's test metrics are made of (group breakdowns, intervals), by trial number."""
    return {e.trial_number: dict(e.data.get(DETAILS_KEY) or {}) for e in _events(study, EVENT)
            if e.trial_number is not None}  # fmt: skip


def _score(
    study: EvaluatedStudy, evaluate: Callable[..., dict[str, Any]], trial: TrialRecord, run_settings: RunSettings
) -> tuple[dict[str, float], dict[str, Any] | None]:
    from metaml.pipelines.evaluation import CheckpointTrial  # late: it imports torch

    stand_in = CheckpointTrial(trial.number, study.trial_directory(trial.number), trial.fidelity,
                               study.full_fidelity, study.uid, config=trial.config,
                               run_settings=run_settings)  # fmt: skip
    stand_in.require_checkpoint()  # say so before paying for loading the data
    result = dict(evaluate(dict(trial.config), stand_in))
    details = result.pop(DETAILS_KEY, None)
    return {k: float(v) for k, v in result.items()}, dict(details) if isinstance(details, Mapping) else None


def _finish(study: EvaluatedStudy, result: FinalEvaluation, function: Any) -> FinalEvaluation:
    now = time.time()
    study.update_metadata(test_evaluation={
        "status": result.status, "message": result.message, "front": list(result.front),
        "function": _function_name(function), "evaluated_at": now,
    })  # fmt: skip
    return replace(result, evaluated_at=now)


def _function_name(function: Any) -> str | None:
    return function if isinstance(function, str) else getattr(function, "__qualname__", None)


def _not_builtin(function: Any) -> str:
    name = _function_name(function)
    if name is None:
        return "no test evaluation: the study's training function is unknown (pass it to evaluate_front)"
    return f"no test evaluation: {name} is a user function, not a built-in pipeline, so it has no test split"


def _numbers(front: Sequence[TrialRecord]) -> tuple[int, ...]:
    return tuple(sorted(t.number for t in front))

