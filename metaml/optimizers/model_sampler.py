"""BOHB (Falkner et al. 2018): Hyperband whose new configurations come from a model of the highest filled rung.

BOHB is a composition, not a new scheduler: Hyperband decides when to start and promote,
and the ``model`` sampler decides *which* configuration starts. It fits ``bo``'s Gaussian
process (``metaml.optimizers.bo``: the same encoding, hyperparameter refits, acquisition and
maximizer) on the results of the *highest* rung that holds at least ``min_points``
completed trials (BOHB's rule: the number of parameters plus two), since the highest
fidelity with enough data predicts the full run best, and proposes the acquisition's
maximum. Until a rung has that many results, and for a ``random_fraction`` of the draws
(BOHB's 1/3, which keeps its convergence guarantee), the ``base`` sampler (uniform, or the
priors) draws instead, and the reason says which happened.

The original BOHB models with a TPE-style density estimator; a GP on one rung's results is
the same idea with the model metaml already has (several objectives get qLogNEHVI, limits
become constraints, exactly as in ``bo``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from metaml.core.records import TrialRecord, TrialStatus
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.bo.encoding import collect_rows, training_data
from metaml.optimizers.hyperband import Hyperband
from metaml.optimizers.rungs import ladder_index
from metaml.optimizers.samplers import SampleContext, Sampler, make_sampler, register_sampler
from metaml.space import Constant, Space

logger = logging.getLogger(__name__)

_DEFAULTS: dict[str, Any] = {
    "base": "auto",
    "min_points": None,
    "random_fraction": 1.0 / 3.0,
    "refit_every": 5,
    "raw_samples": 128,
    "num_restarts": 0,
}


class ModelSampler(Sampler):
    """A GP fitted on the highest rung with enough results proposes; the base sampler draws before that."""

    name = "model"

    def __init__(
        self,
        base: str | Mapping[str, Any] = "auto",
        min_points: int | None = None,
        random_fraction: float = 1.0 / 3.0,
        refit_every: int = 5,
        raw_samples: int = 128,
        num_restarts: int = 0,
    ) -> None:
        base_name = base.get("name") if isinstance(base, Mapping) else base
        if not isinstance(base_name, str) or base_name == self.name:
            raise OptimizerError(f"model sampler: base must name another sampler (uniform, prior, ...), got {base!r}")
        if isinstance(random_fraction, bool) or not isinstance(random_fraction, (int, float)) or not (
            0.0 <= random_fraction <= 1.0
        ):
            raise OptimizerError(f"model sampler: random_fraction must be in [0, 1] (BOHB uses 1/3), got {random_fraction!r}")
        self.base = dict(base) if isinstance(base, Mapping) else base
        self.min_points = _whole("min_points", min_points, 2, optional=True)
        self.random_fraction = float(random_fraction)
        self.refit_every = _whole("refit_every", refit_every, 1)
        self.raw_samples = _whole("raw_samples", raw_samples, 1)
        # 0: score the candidate pool and the best point's neighbours only, as BOHB scores its model's
        # samples; more start gradient steps from the best pool points, as ``bo`` does
        self.num_restarts = _whole("num_restarts", num_restarts, 0)
        #: GP hyperparameters by a digest of the data and the fit's seed they were fitted on: a speed-up
        #: only (bo/model.py), which the optimizer conformance suite proves changes no decision.
        self._cache: Any = None

    @property
    def all_settings(self) -> dict[str, Any]:
        """Every setting, defaults included (what BOHB stores)."""
        return {
            "base": self.base,
            "min_points": self.min_points,
            "random_fraction": self.random_fraction,
            "refit_every": self.refit_every,
            "raw_samples": self.raw_samples,
            "num_restarts": self.num_restarts,
        }

    @property
    def settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.all_settings.items() if v != _DEFAULTS[k]}

    def needed(self, space: Space) -> int:
        """Completed trials a rung needs before the model proposes: ``min_points``, else parameters + 2."""
        if self.min_points is not None:
            return self.min_points
        return sum(1 for p in space.searchable.values() if not isinstance(p, Constant)) + 2

    def sample(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SampleContext | None = None
    ) -> tuple[dict[str, Any], str]:
        base = make_sampler(self.base, space)
        if context is None:
            config, how = base.sample(space, history, rng)
            return config, f"model: no rungs to model outside a multi-fidelity scheduler, {how}"
        if self.random_fraction and rng.random() < self.random_fraction:
            config, how = base.sample(space, history, rng, context)
            return config, f"random fraction {self.random_fraction:.2g} of BOHB's draws: {how}"
        counts = _results_by_rung(history, context.ladder, context.objectives)
        need = self.needed(space)
        filled = [r for r, n in counts.items() if n >= need]
        if not filled:
            top = max(counts, default=None)
            have = f"{counts[top]} at {context.ladder[top]:g}" if top is not None else "none yet"
            config, how = base.sample(space, history, rng, context)
            return config, f"model waits for a rung with {need} results ({have}): {how}"
        rung = max(filled)
        try:
            return self._propose(space, history, rng, context, rung)
        except Exception as exc:  # the contract: a numerical failure never stops the study
            logger.warning("model sampler: proposal failed at trial %d", len(history), exc_info=True)
            config, how = base.sample(space, history, rng, context)
            return config, f"model failed ({type(exc).__name__}), fell back: {how}"

    def _propose(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, ctx: SampleContext, rung: int
    ) -> tuple[dict[str, Any], str]:
        from metaml.optimizers.bo import model as gp
        from metaml.optimizers.bo.optimizer import one_thread
        from metaml.optimizers.bo.propose import propose

        fidelity = ctx.ladder[rung]
        # The rung's results teach the model; configurations in flight anywhere are its pending points.
        subset = [t for t in history if t.status in (TrialStatus.PENDING, TrialStatus.RUNNING) or _on(t, ctx.ladder, rung)]
        rows, pending = collect_rows(space, ctx.objectives, subset, fidelity)
        data = training_data(rows, pending, len(ctx.objectives), space.n_dims)
        if self._cache is None:
            self._cache = gp.HyperparameterCache(size=32)
        with one_thread():
            chosen = propose(
                space, ctx.objectives, rows, data,
                seed=rung, ask_seed=int(rng.integers(2**62)), rng=rng, cache=self._cache,
                refit_every=self.refit_every, raw_samples=self.raw_samples,
                num_restarts=self.num_restarts, prior_weight=0.0,
            )
        return space.decode(chosen.x), (
            f"model: {chosen.acquisition} maximum of a GP on the {data.n_completed} results at "
            f"{fidelity:g} (the highest rung with {self.needed(space)})"
        )


register_sampler(ModelSampler.name, ModelSampler)


class BOHB(Hyperband):
    """Hyperband with the ``model`` sampler: BOHB's model-based draws on Hyperband's schedule."""

    name = "bohb"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        eta: float = 3,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        base: str | Mapping[str, Any] = "auto",
        min_points: int | None = None,
        random_fraction: float = 1.0 / 3.0,
        refit_every: int = 5,
        raw_samples: int = 128,
        num_restarts: int = 0,
    ) -> None:
        model = ModelSampler(base, min_points, random_fraction, refit_every, raw_samples, num_restarts)
        super().__init__(space, objectives, seed, eta, min_fidelity, max_fidelity, model)
        self.model = model

    @property
    def settings(self) -> dict[str, Any]:
        return {"eta": self.eta, "min_fidelity": self.min_fidelity, "max_fidelity": self.max_fidelity,
                **self.model.all_settings}


# ---------------------------------------------------------------------- helpers
def _on(record: TrialRecord, ladder: Sequence[float], rung: int) -> bool:
    return ladder_index(ladder, record.fidelity) == rung


def _results_by_rung(
    history: Sequence[TrialRecord], ladder: Sequence[float], objectives: Sequence[Objective]
) -> dict[int, int]:
    """Completed trials with a finite value of every objective, counted by the rung their fidelity sits on."""
    out: dict[int, int] = {}
    for t in history:
        if t.status is not TrialStatus.COMPLETED:
            continue
        values = [(t.metrics or {}).get(o.name) for o in objectives]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            continue
        rung = ladder_index(ladder, t.fidelity)
        if rung is not None:
            out[rung] = out.get(rung, 0) + 1
    return out


def _whole(name: str, value: Any, minimum: int, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptimizerError(f"model sampler: {name} must be a whole number >= {minimum}, got {value!r}")
    return value
