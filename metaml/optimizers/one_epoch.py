"""``one_epoch``: train every configuration for one epoch, continue the best ``top_k`` to the end.

The baseline of Egele et al. (2023), "Is one epoch all you need for multi-fidelity
hyperparameter optimization?": on benchmarks such as LCBench, where a few learning curves
dominate from the start, ranking many configurations after their first epoch and training
only the best to the full length rivals far more elaborate schedulers. Run as an anytime
optimizer: new configurations are started at the lowest fidelity, and after every
``per_round`` of them have finished, the ``top_k`` best not yet continued (by the first
objective, or by Pareto rank with several) continue from their checkpoints straight to the
full fidelity. It never waits on running trials.

``freeze_thaw`` falls back to the same rule (``top_k_due``) when its model cannot be fitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from metaml.core.records import Proposal, TrialRecord
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.optimizers.multiobjective import rank_pareto
from metaml.optimizers.rungs import CONFIG_ID, next_number, promotable
from metaml.optimizers.samplers import Sampler, make_sampler
from metaml.space import Space

#: ``info`` key of the stage a trial belongs to: ``first`` (the lowest fidelity) or ``full``.
STAGE = "stage"


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
        self._sampler_spec = sampler.spec if isinstance(sampler, Sampler) else sampler
        self.sampler = make_sampler(sampler, space)

    @property
    def settings(self) -> dict[str, Any]:
        return {"per_round": self.per_round, "top_k": self.top_k, "min_fidelity": self.min_fidelity,
                "max_fidelity": self.max_fidelity, "sampler": self._sampler_spec}

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
            ranked = rank_pareto(finished, self.objectives)
            for position, parent in enumerate(ranked):
                if parent.number not in continued and promotable(parent, self.objectives):
                    return Proposal(
                        config=dict(parent.config), fidelity=self.full, continue_from=parent.number,
                        reason=(f"continued to {self.full:g}: rank {position + 1} of {len(finished)} configurations "
                                f"after {self.first:g} (top {self.top_k} per {self.per_round}), trial {parent.number}"),
                        info={STAGE: "full", CONFIG_ID: parent.info.get(CONFIG_ID, parent.number)},
                    )
        return self.new(history, len(first))

    def new(self, history: Sequence[TrialRecord], started: int) -> Proposal:
        config, how = self.sampler.sample(self.space, history, self.rng(history, 1))
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
