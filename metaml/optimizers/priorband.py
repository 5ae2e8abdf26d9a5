"""PriorBand (Mallik et al. 2023): Hyperband whose new configurations mix prior, incumbent and uniform.

Expert priors make cheap multi-fidelity search much better when they are good, and must not
make it much worse when they are bad. PriorBand's sampler draws each new configuration

* uniformly with probability ``1 / (1 + eta**r)``, ``r`` the ladder index it starts at: the
  higher the rung, the fewer the configurations and the less room for exploration;
* otherwise from the prior or from the neighbourhood of the incumbent, in a ratio that
  follows the evidence: the best configurations of the highest well-filled rung each vote,
  weighted by rank, for the distribution (prior, or a Gaussian around the incumbent) that
  more likely produced them.

Incumbent sampling only starts once the study has spent one most-exploratory bracket's
worth of fidelity and has a result at full fidelity; until then the prior gets its share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from metaml.core.records import TrialRecord, TrialStatus
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.hyperband import Hyperband
from metaml.optimizers.multifidelity import SamplerSpec
from metaml.optimizers.rungs import BracketPlan, bracket_resources, ladder_index
from metaml.optimizers.samplers import SampleContext, Sampler, register_sampler
from metaml.space import CONFIDENCE_MASS, CONFIDENCE_STD, Categorical, Float, Space
from metaml.space.parameters import truncated_normal_pdf, truncated_normal_sample

Weights = tuple[float, float, float]  # prior, incumbent, uniform


class PriorBandSampler(Sampler):
    """PriorBand's ensemble of prior, incumbent-neighbourhood and uniform sampling."""

    name = "priorband"

    def __init__(self, mutation_rate: float = 0.5, mutation_std: float = 0.25) -> None:
        if not (isinstance(mutation_rate, (int, float)) and 0 < mutation_rate <= 1):
            raise OptimizerError(f"priorband: mutation_rate must be in (0, 1], got {mutation_rate!r}")
        if not (isinstance(mutation_std, (int, float)) and 0 < mutation_std <= 1):
            raise OptimizerError(f"priorband: mutation_std must be in (0, 1], got {mutation_std!r}")
        self.mutation_rate, self.mutation_std = float(mutation_rate), float(mutation_std)

    @property
    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.mutation_rate != 0.5:
            out["mutation_rate"] = self.mutation_rate
        if self.mutation_std != 0.25:
            out["mutation_std"] = self.mutation_std
        return out

    def sample(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SampleContext | None = None
    ) -> tuple[dict[str, Any], str]:
        if context is None:
            raise OptimizerError("the priorband sampler needs a multi-fidelity scheduler (e.g. hyperband)")
        if space.has_priors and not any(t.continue_from is None for t in history):
            return space.default(), "priorband: the expert prior's own configuration, tried first"
        (w_prior, w_inc, w_uniform), incumbent = self.weights(space, history, context)
        mix = f"weights prior {w_prior:.2f}, incumbent {w_inc:.2f}, uniform {w_uniform:.2f}"
        u = rng.random()
        if u < w_uniform:
            return space.sample(rng, use_prior=False), f"priorband: drawn uniformly ({mix})"
        if u < w_uniform + w_inc and incumbent is not None:
            return self.mutate(space, incumbent.config, rng), (
                f"priorband: near the incumbent, trial {incumbent.number} ({mix})"
            )
        return space.sample(rng, use_prior=True), f"priorband: drawn from the expert priors ({mix})"

    # ------------------------------------------------------------------ weights
    def weights(
        self, space: Space, history: Sequence[TrialRecord], ctx: SampleContext
    ) -> tuple[Weights, TrialRecord | None]:
        """(prior, incumbent, uniform) probabilities for a draw at ``ctx.rung``, and the incumbent."""
        w_uniform = 1.0 / (1.0 + ctx.eta**ctx.rung)
        rest = 1.0 - w_uniform
        results = _results_by_rung(history, ctx.ladder, ctx.objectives)
        top = results.get(len(ctx.ladder) - 1, [])
        if not top or _spent(history, ctx.ladder) < bracket_resources(_first_bracket(ctx), ctx.ladder):
            return (rest, 0.0, w_uniform), None
        incumbent = ctx.rank(top)[0]
        share = self.prior_share(space, results, incumbent, ctx)
        return (rest * share, rest * (1.0 - share), w_uniform), incumbent

    def prior_share(
        self, space: Space, results: dict[int, list[TrialRecord]], incumbent: TrialRecord, ctx: SampleContext
    ) -> float:
        """The prior's part of the non-uniform draws: a rank-weighted vote of the best configurations.

        Each of the best ``max(n // eta, eta)`` configurations of the highest rung holding at
        least ``eta`` results votes for the prior and the incumbent in proportion to how
        likely each would have drawn it; better configurations weigh more. Votes are
        normalized per configuration, so that density products in a large space can
        neither overflow nor let one configuration decide alone.
        """
        eta = ctx.eta
        filled = [r for r, rs in results.items() if len(rs) >= eta]
        if not filled:
            return eta / (1.0 + eta)  # no evidence yet: the incumbent gets 1/eta of the prior's weight
        ranked = ctx.rank(results[max(filled)])
        best = ranked[: max(int(len(ranked) // eta), math.ceil(eta))]
        votes, total = 0.0, 0.0
        for position, record in enumerate(best):
            weight = float(len(best) - position)
            gap = log_density_near(space, record.config, incumbent.config) - log_prior_density(space, record.config)
            votes += weight / (1.0 + math.exp(min(gap, 700.0)))
            total += weight
        return votes / total

    # -------------------------------------------------------------- neighbourhood
    def mutate(self, space: Space, config: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """A neighbour of ``config``: each parameter changed with probability ``mutation_rate`` (at least one).

        Numbers move by a Gaussian step in the unit-cube encoding; a categorical switches to
        another choice.
        """
        dims = space.dimensions
        if not dims:
            return space.sample(rng)
        x = space.encode(config)
        chosen = rng.random(len(dims)) < self.mutation_rate
        if not chosen.any():
            chosen[int(rng.integers(len(dims)))] = True
        for dim, change in zip(dims, chosen):
            if not change:
                continue
            if dim.kind == "categorical":
                width = dim.stop - dim.start
                current = int(np.argmax(x[dim.start : dim.stop])) if x[dim.start : dim.stop].any() else -1
                options = [i for i in range(width) if i != current] or [0]
                x[dim.start : dim.stop] = 0.0
                x[dim.start + options[int(rng.integers(len(options)))]] = 1.0
            else:
                x[dim.start] = _truncated_normal(rng, float(x[dim.start]), self.mutation_std)
        return space.decode(x)


register_sampler(PriorBandSampler.name, PriorBandSampler)


class PriorBand(Hyperband):
    """Hyperband with the PriorBand sampler (``sampler`` may still name another, e.g. for ablations)."""

    name = "priorband"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        eta: float = 3,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        sampler: SamplerSpec = "priorband",
    ) -> None:
        super().__init__(space, objectives, seed, eta, min_fidelity, max_fidelity, sampler)


# ---------------------------------------------------------------------- helpers
def log_prior_density(space: Space, config: dict[str, Any]) -> float:
    """Log density of ``config`` under the expert priors, in the unit-cube encoding (0 without priors)."""
    total = 0.0
    for name, param in space.searchable.items():
        if name not in config:
            continue
        if isinstance(param, Categorical):
            total += math.log(float(param.prior_probabilities()[param.index(config[name])]))
        elif isinstance(param, Float):
            total += math.log(max(float(param.prior_density(np.array([param.to_unit(config[name])]))[0]), 1e-300))
    return total


def log_density_near(space: Space, config: dict[str, Any], center: dict[str, Any]) -> float:
    """Log density of ``config`` under a prior centred on ``center``, with each parameter's confidence."""
    total = 0.0
    for name, param in space.searchable.items():
        if name not in config or name not in center:
            continue
        if isinstance(param, Categorical):
            k = len(param.choices)
            if k > 1:
                mass = max(CONFIDENCE_MASS[param.confidence], 1.0 / k)
                total += math.log(mass if param.index(config[name]) == param.index(center[name]) else (1 - mass) / (k - 1))
        elif isinstance(param, Float):
            std, mean = CONFIDENCE_STD[param.confidence], param.to_unit(center[name])
            density = float(truncated_normal_pdf(param.to_unit(config[name]), mean, std))
            total += math.log(max(density, 1e-300))
    return total


def _truncated_normal(rng: np.random.Generator, mean: float, std: float) -> float:
    return truncated_normal_sample(rng, mean, std)


def _first_bracket(ctx: SampleContext) -> BracketPlan:
    return BracketPlan(halvings=len(ctx.bracket_counts) - 1, base=0, counts=ctx.bracket_counts)


def _results_by_rung(
    history: Sequence[TrialRecord], ladder: Sequence[float], objectives: Sequence[Objective]
) -> dict[int, list[TrialRecord]]:
    """Finished trials with a result, by the rung their fidelity sits on (user-enqueued ones included)."""
    out: dict[int, list[TrialRecord]] = {}
    for t in history:
        if t.status is not TrialStatus.COMPLETED or not all(o.name in (t.metrics or {}) for o in objectives):
            continue
        rung = ladder_index(ladder, t.fidelity)
        if rung is not None:
            out.setdefault(rung, []).append(t)
    return out


def _spent(history: Sequence[TrialRecord], ladder: Sequence[float]) -> float:
    """Fidelity units trained by finished trials, a promoted one counting only beyond its parent."""
    fidelity = {t.number: float(t.fidelity or 0.0) for t in history}
    spent = 0.0
    for t in history:
        if t.status.finished and t.fidelity is not None:
            start = fidelity.get(t.continue_from, 0.0) if t.continue_from is not None else 0.0
            spent += max(0.0, float(t.fidelity) - start)
    return spent
