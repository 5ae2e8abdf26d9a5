"""``one_epoch``: train every configuration for one epoch, continue the best ``top_k`` to the end.

The baseline of Egele et al. (2023), "Is one epoch all you need for multi-fidelity
hyperparameter optimization?": on benchmarks such as LCBench, where a few learning curves
dominate from the start, ranking many configurations after their first epoch and training
only the best to the full length rivals far more elaborate schedulers. Run as an anytime
optimizer: new configurations are started at the lowest fidelity, and after every
``per_round`` of them have finished, the ``top_k`` best not yet continued (by the first
objective, or by Pareto rank with several) continue from their checkpoints straight to the
full fidelity. It never waits on running trials.

Two settings turn the baseline into a stronger screen-then-train search (docs/benchmarks.md,
"The no-oracle search built"):

* ``rank_by: trend`` ranks the screened configurations by their curve's own trend (the
  log-log line through their last curve points, continued to the full fidelity and shrunk:
  ``curve_trend``) instead of their value at the screen, so a curve still falling fast is
  judged by where it is heading; a trial that reported fewer than two curve points is
  ranked by its value. ``rank_by: value`` (the default) is Egele et al.'s rule.
* ``sampler: model`` draws the new configurations from BOHB's model sampler: a GP on the
  screens' results (the first stage), or on the full-fidelity results once there are enough
  of them (the highest stage with the parameters + 2 results), with BOHB's random share.

``freeze_thaw`` falls back to the same rule (``top_k_due``) when its model cannot be fitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from metaml.core.records import Proposal, TrialRecord
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.optimizers.curve_trend import trend_estimate
from metaml.optimizers.multiobjective import rank_pareto
from metaml.optimizers.rungs import CONFIG_ID, next_number, promotable
from metaml.optimizers.samplers import SampleContext, Sampler, make_sampler
from metaml.space import Space

#: ``info`` key of the stage a trial belongs to: ``first`` (the lowest fidelity) or ``full``.
STAGE = "stage"
#: How the screened configurations are ranked for a continuation: by their value at the screen, or by the trend.
RANK_BY = ("value", "trend")


def top_k_due(finished_first: int, continued: int, per_round: int, top_k: int) -> bool:
    """Whether a continuation is due: ``top_k`` for each full round of ``per_round`` finished first stages."""
    return continued < top_k * (finished_first // per_round)


class OneEpoch(Optimizer):
    """Many configurations for one epoch (the lowest fidelity), the best few continued to the full one."""

    name = "one_epoch"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        per_round: int = 10,
        top_k: int = 1,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        sampler: str | Sampler = "auto",
        rank_by: str = "value",
    ) -> None:
        super().__init__(space, objectives, seed)
        fid = space.fidelity
        if fid is None:
            raise OptimizerError(
                "one_epoch needs a Fidelity parameter in the space (e.g. epochs: {type: fidelity, lower: 1, upper: 50})"
            )
        for name, value in (("per_round", per_round), ("top_k", top_k)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise OptimizerError(f"one_epoch: {name} must be a whole number >= 1, got {value!r}")
        if top_k > per_round:
            raise OptimizerError(f"one_epoch: top_k ({top_k}) cannot exceed per_round ({per_round})")
        self.per_round, self.top_k = per_round, top_k
        self.min_fidelity, self.max_fidelity = min_fidelity, max_fidelity
        self.first = fidelity_setting(self.name, space, "min_fidelity", min_fidelity, fid.lower)
        self.full = fidelity_setting(self.name, space, "max_fidelity", max_fidelity, fid.upper)
        if self.first >= self.full:
            raise OptimizerError(f"one_epoch: min_fidelity ({self.first}) must be below max_fidelity ({self.full})")
        if rank_by not in RANK_BY:
            raise OptimizerError(f"one_epoch: rank_by must be one of {', '.join(RANK_BY)}, got {rank_by!r}")
        self.rank_by = rank_by
        self._sampler_spec = sampler.spec if isinstance(sampler, Sampler) else sampler
        self.sampler = make_sampler(sampler, space)

    @property
    def settings(self) -> dict[str, Any]:
        return {"per_round": self.per_round, "top_k": self.top_k, "min_fidelity": self.min_fidelity,
                "max_fidelity": self.max_fidelity, "sampler": self._sampler_spec, "rank_by": self.rank_by}

    @property
    def full_fidelity(self) -> float | None:
        return self.full

    @property
    def first_objective_only(self) -> bool:
        return len(self.objectives) <= 1

    def propose(self, view: StudyView) -> Proposal | None:
        history = view.trials
        first = [t for t in history if t.info.get(STAGE) == "first"]
        continued = {t.continue_from for t in history if t.info.get(STAGE) == "full"}
        finished = [t for t in first if t.status.finished]
        if top_k_due(len(finished), len(continued), self.per_round, self.top_k):
            by = "its trend" if self.rank_by == "trend" else "its value"
            ranked = self._ranked(view, finished)
            for position, (parent, judged) in enumerate(ranked):
                if parent.number not in continued and promotable(parent, self.objectives):
                    return Proposal(
                        config=dict(parent.config), fidelity=self.full, continue_from=parent.number,
                        reason=(f"continued to {self.full:g}: rank {position + 1} of {len(finished)} configurations "
                                f"by {by} after {self.first:g} (top {self.top_k} per {self.per_round}), "
                                f"trial {parent.number}"),
                        info={STAGE: "full", CONFIG_ID: parent.info.get(CONFIG_ID, parent.number),
                              **({"trend": judged} if self.rank_by == "trend" else {})},
                    )
        return self.new(history, len(first))

    def _ranked(self, view: StudyView, finished: Sequence[TrialRecord]) -> list[tuple[TrialRecord, dict[str, Any]]]:
        """The screened trials best first, each with the metrics it was judged by (its own, or its trends')."""
        if self.rank_by == "value":
            return [(t, {}) for t in rank_pareto(finished, self.objectives)]
        judged = {t.number: self._trends(view, t) for t in finished}
        stand_ins = [replace(t, metrics={**(t.metrics or {}), **judged[t.number]}) for t in finished]
        by_number = {t.number: t for t in finished}
        return [(by_number[s.number], judged[s.number]) for s in rank_pareto(stand_ins, self.objectives)]

    def _trends(self, view: StudyView, trial: TrialRecord) -> dict[str, float]:
        """Each objective's value at the full fidelity by the trend of the trial's curve (none: too few points)."""
        out: dict[str, float] = {}
        curve = view.curve(trial.number)
        for o in self.objectives:
            points = [(float(p.step), float(v)) for p in curve
                      if isinstance(v := p.metrics.get(o.name), (int, float)) and not isinstance(v, bool)]
            if len(points) >= 2 and all(math.isfinite(v) for _, v in points):
                steps, values = zip(*sorted(points))
                loss = trend_estimate(steps, [o.sign * v for v in values], float(self.full))
                out[o.name] = o.sign * loss
        return out

    def new(self, history: Sequence[TrialRecord], started: int) -> Proposal:
        context = SampleContext(
            objectives=tuple(self.objectives), ladder=(float(self.first), float(self.full)), rung=0,
            eta=self.per_round / self.top_k, bracket_counts=(self.per_round, self.top_k),
            rank=lambda records: rank_pareto(records, self.objectives),
        )
        config, how = self.sampler.sample(self.space, history, self.rng(history, 1), context)
        return Proposal(
            config=config, fidelity=self.first,
            reason=f"new configuration {started + 1} at {self.first:g}: {how}",
            info={STAGE: "first", CONFIG_ID: next_number(history)},
        )


def fidelity_setting(owner: str, space: Space, name: str, value: float | None, default: float) -> float:
    """A ``min_fidelity``/``max_fidelity`` setting checked against the space's fidelity (``default`` when None).

    A whole number for an integer fidelity, so that proposals carry ``27``, not ``27.0``.
    """
    fid = space.fidelity
    assert fid is not None
    if value is None:
        return int(default) if fid.is_int else float(default)
    where = f"{owner}: {name}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise OptimizerError(f"{where} must be a number, got {value!r}")
    if not fid.lower <= value <= fid.upper:
        raise OptimizerError(
            f"{where} ({value}) lies outside the space's fidelity {space.fidelity_name} [{fid.lower}, {fid.upper}]"
        )
    if fid.is_int and float(value) != int(value):
        raise OptimizerError(f"{where} must be a whole number for the integer fidelity, got {value!r}")
    return int(value) if fid.is_int else float(value)
