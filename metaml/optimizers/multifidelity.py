"""The shared base of the multi-fidelity schedulers: settings, the rung ladder, ranking, proposals.

Successive halving, Hyperband and ASHA differ only in *when* they promote and start
configurations; everything else (checking eta and the fidelity range, drawing a new
configuration through a sampler, writing a promotion with its reason and ``info``) lives here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from metaml.core.records import Proposal, TrialRecord
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.optimizers.rungs import (
    BRACKET,
    CONFIG_ID,
    RUNG,
    fidelity_ladder,
    halvings,
    hyperband_brackets,
    next_number,
    rank_by_first_objective,
)
from metaml.optimizers.samplers import SampleContext, Sampler, make_sampler
from metaml.space import Space

SamplerSpec = str | Mapping[str, Any] | Sampler


class MultiFidelityOptimizer(Optimizer):
    """Base of schedulers that train configurations on a ladder of fidelities and promote the best."""

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        eta: float = 3,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        sampler: SamplerSpec = "auto",
    ) -> None:
        super().__init__(space, objectives, seed)
        fid = space.fidelity
        if fid is None:
            raise OptimizerError(
                f"{self.name} needs a Fidelity parameter in the space "
                "(e.g. epochs: {type: fidelity, lower: 1, upper: 27})"
            )
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not math.isfinite(eta) or eta < 2:
            raise OptimizerError(f"{self.name}: eta must be a number >= 2 (3 is usual), got {eta!r}")
        self.eta = eta
        self.min_fidelity, self.max_fidelity = min_fidelity, max_fidelity
        r_min = self._fidelity_setting("min_fidelity", min_fidelity, fid.lower)
        r_max = self._fidelity_setting("max_fidelity", max_fidelity, fid.upper)
        if r_min > r_max:
            raise OptimizerError(f"{self.name}: min_fidelity ({r_min}) must not exceed max_fidelity ({r_max})")
        self.fidelity_name = space.fidelity_name or "fidelity"
        self.ladder = fidelity_ladder(r_min, r_max, eta, fid.is_int)
        self.s_max = halvings(r_min, r_max, eta)
        self.brackets = hyperband_brackets(self.s_max, eta)
        self._sampler_spec: str | dict[str, Any] = (
            sampler.spec if isinstance(sampler, Sampler) else dict(sampler) if isinstance(sampler, Mapping) else sampler
        )
        self.sampler = make_sampler(sampler, space)

    def _fidelity_setting(self, name: str, value: float | None, default: float) -> float:
        fid = self.space.fidelity
        assert fid is not None
        if value is None:
            return default
        where = f"{self.name}: {name}"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise OptimizerError(f"{where} must be a number, got {value!r}")
        if not fid.lower <= value <= fid.upper:
            raise OptimizerError(
                f"{where} ({value}) lies outside the space's fidelity {self.space.fidelity_name} "
                f"[{fid.lower}, {fid.upper}]; choose a value inside it or widen the fidelity"
            )
        if fid.is_int and float(value) != int(value):
            raise OptimizerError(f"{where} must be a whole number for the integer fidelity, got {value!r}")
        return value

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "eta": self.eta,
            "min_fidelity": self.min_fidelity,
            "max_fidelity": self.max_fidelity,
            "sampler": self._sampler_spec,
        }

    @property
    def full_fidelity(self) -> float | None:
        """The top of the ladder: a ``max_fidelity`` below the space's upper bound is this study's full run."""
        return self.ladder[-1]

    # ------------------------------------------------------------------ ranking
    @property
    def first_objective_only(self) -> bool:
        """True: promotions rank on the first objective (a Pareto ``rank`` says False)."""
        return True

    def rank(self, records: Sequence[TrialRecord]) -> list[TrialRecord]:
        """Finished records best first; the one hook a multi-objective ranking replaces."""
        return rank_by_first_objective(records, self.objectives)

    # ---------------------------------------------------------------- proposals
    def describe(self, rung: int) -> str:
        """A rung in words: ``9 epochs``."""
        return f"{self.ladder[rung]:g} {self.fidelity_name}"

    def sample_context(self, rung: int) -> SampleContext:
        return SampleContext(
            objectives=self.objectives,
            ladder=self.ladder,
            rung=rung,
            eta=self.eta,
            bracket_counts=self.brackets[0].counts,
            rank=self.rank,
        )

    def new_config(
        self, history: Sequence[TrialRecord], rung: int, bracket: int, why: str, **info: Any
    ) -> Proposal:
        """A fresh configuration from the sampler, started at ladder index ``rung``."""
        config, how = self.sampler.sample(self.space, history, self.rng(history, bracket, rung), self.sample_context(rung))
        return Proposal(
            config=config,
            fidelity=self.ladder[rung],
            reason=f"new configuration at {self.describe(rung)} ({why}): {how}",
            info={BRACKET: bracket, RUNG: rung, CONFIG_ID: next_number(history), **info},
        )

    def promotion(self, parent: TrialRecord, rung: int, pool: Sequence[TrialRecord], position: int) -> Proposal:
        """``parent``'s configuration continued from its checkpoint up to ladder index ``rung``.

        ``pool`` is the rung ``parent`` competed in and ``position`` its 0-based rank there.
        """
        below = int(parent.info[RUNG])
        return Proposal(
            config=dict(parent.config),
            fidelity=self.ladder[rung],
            continue_from=parent.number,
            reason=(
                f"promoted from rung {self.describe(below)} to {self.ladder[rung]:g} {self.fidelity_name}: "
                f"top 1/{self.eta:g} of {len(pool)} (rank {position + 1}), continues trial {parent.number}"
            ),
            info={BRACKET: int(parent.info[BRACKET]), RUNG: rung, CONFIG_ID: parent.info.get(CONFIG_ID, parent.number)},
        )
