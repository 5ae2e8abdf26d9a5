"""The front for the one who chooses: each objective in words, its unit and limit, each model against the default.

A policy maker picks a trade-off without reading code: ``choice_sheet(study)`` says what each
objective measures (the metric registry's description for a built-in metric), which way is
better, what its limit leaves out, and for every front model how it compares with the default
configuration's run (the pipeline's baseline, trial 0 of a built-in pipeline's study; else a
completed full run of the space's default, when one ran). ``metaml choose FILE`` prints it and,
with ``--pick N``, records the choice (``Study.choose``) as an intervention the model card shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metaml.core.records import TrialRecord, TrialStatus
from metaml.metrics.registry import available_metrics, get_metric
from metaml.objectives import Objective
from metaml.study import Study

#: Units by how a metric's name ends or what it is, for names the user chose in the usual way.
_UNITS = (("_ms", "milliseconds"), ("_s", "seconds"), ("_bytes", "bytes"), ("_mb", "megabytes"), ("_wh", "watt-hours"),
          ("_kwh", "kilowatt-hours"), ("n_parameters", "parameters"), ("log_loss", "nats"), ("error", "fraction, 0 to 1"),
          ("ece", "fraction, 0 to 1"), ("_difference", "fraction, 0 to 1"), ("accuracy", "fraction, 0 to 1"))


@dataclass(frozen=True)
class ObjectiveWords:
    """One objective as a reader needs it: what it measures, its unit, which way is better, what the limit does."""

    name: str
    meaning: str
    unit: str | None
    better: str
    limit: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "meaning": self.meaning, "unit": self.unit, "better": self.better, "limit": self.limit}


@dataclass(frozen=True)
class FrontModel:
    """A front member: its metrics and, per objective, how it compares with the default's run (None: no default ran)."""

    trial: int
    metrics: dict[str, float]
    versus_default: dict[str, str | None]
    chosen: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"trial": self.trial, "metrics": self.metrics, "versus_default": self.versus_default,
                "chosen": self.chosen}


@dataclass(frozen=True)
class ChoiceSheet:
    """What ``metaml choose`` shows: the objectives in words, the default's run, the front, the choices so far."""

    study: str
    objectives: tuple[ObjectiveWords, ...]
    default_trial: int | None
    default_metrics: dict[str, float] | None
    front: tuple[FrontModel, ...]
    note: str | None
    choices: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "objectives": [o.to_dict() for o in self.objectives],
                "default": {"trial": self.default_trial, "metrics": self.default_metrics},
                "front": [m.to_dict() for m in self.front], "note": self.note, "choices": list(self.choices)}


def words(o: Objective) -> ObjectiveWords:
    """``o`` in words: the registry's description for a built-in metric, else the name the training function returns."""
    meaning = get_metric(o.name).description if o.name in available_metrics() else \
        f"'{o.name}', as the training function returns it"
    unit = next((u for end, u in _UNITS if o.name.endswith(end) or o.name == end.strip("_")), None)
    better = "lower is better" if o.goal == "min" else "higher is better"
    if o.limit is None:
        limit = "no limit: every value can be on the front"
    else:
        side, out = ("at most", "above") if o.goal == "min" else ("at least", "below")
        limit = (f"{side} {o.limit:g}{'' if unit is None else ' (' + unit + ')'}: a model {out} it is left out of the "
                 "front, however good it is otherwise")
    return ObjectiveWords(o.name, meaning, unit, better, limit)


def compare(o: Objective, value: float, default: float | None) -> str | None:
    """How ``value`` compares with the default's, in words ("12% better than the default (0.15)")."""
    if default is None:
        return None
    if value == default:
        return f"the same as the default ({default:.4g})"
    gain = (default - value) if o.goal == "min" else (value - default)
    how = "better" if gain > 0 else "worse"
    if default != 0:
        return f"{abs(gain) / abs(default):.0%} {how} than the default ({default:.4g})"
    return f"{abs(gain):.4g} {how} than the default ({default:.4g})"


def default_run(study: Study, trials: list[TrialRecord]) -> TrialRecord | None:
    """The completed full run of the default configuration: the pipeline's baseline trial, else the space's default."""
    recorded = study.metadata.default_trial or {}
    number = recorded.get("number") if recorded.get("config") else None
    full = study.full_fidelity
    done = [t for t in trials if t.status is TrialStatus.COMPLETED and (full is None or (t.fidelity or 0) >= full)]
    if number is not None:
        return next((t for t in done if t.number == number), None)
    config = study.space.default()
    return next((t for t in done if t.config == config), None)


def choice_sheet(study: Study) -> ChoiceSheet:
    """The front of ``study`` in the user's words, with the choices recorded so far."""
    trials = study.trials()
    results = study.results(trials)
    default = default_run(study, trials)
    chosen = {i.trial for i in study.interventions() if i.action == "choose"}
    front = []
    for t in sorted(results.front, key=lambda t: t.number):
        metrics = {o.name: float((t.metrics or {})[o.name]) for o in study.objectives}
        versus = {o.name: compare(o, metrics[o.name], None if default is None else (default.metrics or {}).get(o.name))
                  for o in study.objectives}
        front.append(FrontModel(t.number, metrics, versus, t.number in chosen))
    choices = tuple({**i.data(), "trial": i.trial, "time": i.time} for i in study.interventions() if i.action == "choose")
    return ChoiceSheet(study.name, tuple(words(o) for o in study.objectives), None if default is None else default.number,
                       None if default is None else {o.name: float((default.metrics or {})[o.name])
                                                     for o in study.objectives if o.name in (default.metrics or {})},
                       tuple(front), results.front_note(), choices)


__all__ = ["ChoiceSheet", "FrontModel", "ObjectiveWords", "choice_sheet", "compare", "words"]
