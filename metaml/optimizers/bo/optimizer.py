"""``bo``: Gaussian-process Bayesian optimization over the joint space, with limits and expert priors.

A study runs in two phases. The first ``n_initial`` trials follow a scrambled Sobol design,
which covers the space evenly for the model to start from; when the space has expert
priors, the prior's own configuration comes first and every other design point is drawn
through the priors (the rest stay uniform, so a wrong prior cannot hide the space). After that each proposal maximizes a log-acquisition (qLogNEI for
one objective, qLogNEHVI for several; limits as constraints; πBO prior weighting) on a GP
fitted to the completed and failed trials at the full fidelity, with the pending ones as
``X_pending``. Proposals are always at the full fidelity.

Determinism: everything random is drawn from generators seeded by (seed, len(history)) (the
hyperparameter fit by (seed, anchor), ``model.py``), inside ``torch.random.fork_rng`` so the
caller's global torch RNG is left as it was; torch runs on one thread (``one_thread``); and
the hyperparameter cache cannot change a result. A fresh optimizer given the same
history therefore proposes exactly what a long-running one does. A numerical failure of the
model never raises: the proposal falls back to a sample from the priors (or uniform) and
says why. BoTorch is imported on the first model-based ask, so ``import metaml`` stays fast.

Parallel workers: by default a proposal learns from every trial finished by the time it is
made, and treats the running ones as pending. That reacts soonest, but which trials have
finished is a matter of timing, so two runs with several workers differ. With
``parallel: N`` the proposal for trial ``n`` learns from trials ``0 .. n-N`` only, and
treats ``n-N+1 .. n-1`` as pending whatever their state (it waits while an older trial
still runs): the same decision whatever the timing, so runs with 1 to N workers make the
same trials, at the price of learning from each result N-1 trials later.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from metaml.core.records import Proposal, TrialRecord
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.optimizers.bo.encoding import Row, TrainingData, collect_rows, training_data
from metaml.optimizers.bo.prior import sobol_configs
from metaml.optimizers.bo.propose import MIN_COMPLETED, propose
from metaml.optimizers.rungs import next_number
from metaml.space import Constant, Space

logger = logging.getLogger(__name__)


class BayesianOptimization(Optimizer):
    """GP-based proposals at full fidelity; the sample-efficient choice when trials are expensive."""

    name = "bo"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        n_initial: int | None = None,
        prior_weight: float | None = 10.0,
        refit_every: int = 5,
        raw_samples: int | None = None,
        num_restarts: int = 4,
        parallel: int | None = None,
    ) -> None:
        super().__init__(space, objectives, seed)
        self._n_initial = _count("n_initial", n_initial, minimum=1, optional=True)
        self.parallel = _count("parallel", parallel, minimum=1, optional=True)
        self.refit_every = _count("refit_every", refit_every, minimum=1)
        self._raw_samples = _count("raw_samples", raw_samples, minimum=1, optional=True)
        self.num_restarts = _count("num_restarts", num_restarts, minimum=1)
        if prior_weight is not None and (
            isinstance(prior_weight, bool)
            or not isinstance(prior_weight, (int, float))
            or not math.isfinite(prior_weight)
            or prior_weight < 0
        ):
            raise OptimizerError(f"bo: prior_weight must be a number >= 0 (0 or null turns πBO off), got {prior_weight!r}")
        self.prior_weight = prior_weight
        if space.n_dims == 0:
            raise OptimizerError("bo needs at least one parameter to search; this space has only constants")
        if importlib.util.find_spec("botorch") is None:
            raise OptimizerError("bo needs BoTorch: pip install 'botorch>=0.12' (or choose another optimizer)")
        self._cache: Any = None  # model.HyperparameterCache, created on the first fit (botorch imports late)

    # ------------------------------------------------------------------ settings
    @property
    def settings(self) -> dict[str, Any]:
        return {
            "n_initial": self._n_initial,
            "prior_weight": self.prior_weight,
            "refit_every": self.refit_every,
            "raw_samples": self._raw_samples,
            "num_restarts": self.num_restarts,
            "parallel": self.parallel,
        }

    @property
    def n_initial(self) -> int:
        """Trials of the initial design: twice the parameters, at least 5 and at most 10, unless set."""
        if self._n_initial is not None:
            return self._n_initial
        searched = sum(1 for p in self.space.searchable.values() if not isinstance(p, Constant))
        return min(10, max(5, 2 * searched))

    @property
    def raw_samples(self) -> int:
        """Valid points scored to start the maximizer: 256, or 128 with several objectives.

        A qLogNEHVI value costs several times a qLogNEI one (a hypervolume per posterior
        sample), and halving the pool keeps a multi-objective ask at 200 observations
        within the latency budget; the gradient step and the neighbours make up the rest.
        """
        if self._raw_samples is not None:
            return self._raw_samples
        return 256 if len(self.objectives) == 1 else 128

    @property
    def use_prior(self) -> bool:
        """Whether πBO weighting (and the prior-drawn initial design) is on."""
        return self.space.has_priors and bool(self.prior_weight)

    # ----------------------------------------------------------------------- ask
    def propose(self, view: StudyView) -> Proposal | None:
        history = view.trials
        if len(history) < self.n_initial:
            return self._design(history, f"initial design, point {len(history) + 1} of {self.n_initial}")
        pending_from = self._window_start(history)
        if pending_from is not None and any(
            not t.status.finished for t in history if t.number < pending_from
        ):
            return None  # a trial older than the window still runs: its result is part of this decision
        rows, pending = collect_rows(self.space, self.objectives, history, self.full_fidelity, pending_from)
        data = training_data(rows, pending, len(self.objectives), self.space.n_dims)
        if data.n_completed < MIN_COMPLETED:
            return self._design(
                history,
                f"{data.n_completed} completed trial(s) at full fidelity, the GP needs {MIN_COMPLETED}: "
                f"design point {len(history) + 1}",
            )
        from metaml.optimizers.bo.model import GPFitError

        try:
            with one_thread():
                return self._model_based(history, rows, data)
        except GPFitError as exc:
            logger.warning("bo: GP fit failed at trial %d (%s); falling back to a sample", len(history), exc)
            return self._fallback(history, f"GP fit failed ({brief(exc)})")
        except Exception as exc:  # the contract: a numerical failure never stops the study
            logger.warning("bo: model-based proposal failed at trial %d", len(history), exc_info=True)
            return self._fallback(history, f"model-based proposal failed ({type(exc).__name__}: {brief(exc)})")

    def _window_start(self, history: Sequence[TrialRecord]) -> int | None:
        """The first trial number this decision treats as pending whatever its state (None: none, as by default)."""
        if self.parallel is None:
            return None
        return next_number(history) - self.parallel + 1

    def _model_based(self, history: Sequence[TrialRecord], rows: Sequence[Row], data: TrainingData) -> Proposal:
        from metaml.optimizers.bo import model as gp

        if self._cache is None:
            self._cache = gp.HyperparameterCache()
        weight = self.prior_weight / data.n if self.use_prior and self.prior_weight else 0.0
        chosen = propose(
            self.space, self.objectives, rows, data,
            seed=self.seed, ask_seed=gp.derived_seed(self.seed, len(history), 2), rng=self.rng(history, 3),
            cache=self._cache, refit_every=self.refit_every, raw_samples=self.raw_samples,
            num_restarts=self.num_restarts, prior_weight=weight,
        )
        return Proposal(
            config=self.space.decode(chosen.x),
            fidelity=self.full_fidelity,
            reason=self._reason(chosen.acquisition, data, chosen.anchors, weight),
            info={"acquisition": chosen.acquisition, "observations": data.n, "hyperparameters_from": chosen.anchors},
        )

    def _reason(self, acq_name: str, data: TrainingData, anchors: list[int], weight: float) -> str:
        parts = [f"{acq_name} maximum over {data.n_completed} completed trials"]
        if data.n_failed:
            parts.append(f"{data.n_failed} failed imputed as the worst")
        if len(data.pending):
            parts.append(f"{len(data.pending)} pending")
        limited = [o.name for o in self.objectives if o.limit is not None]
        if limited:
            parts.append("limits on " + ", ".join(limited))
        if weight:
            parts.append(f"prior weight {self.prior_weight:g}/{data.n}")
        refit = [o.name for o, a in zip(self.objectives, anchors) if a == data.n]
        if len(refit) == len(anchors):
            fit = "GP refit"
        elif len(anchors) == 1:
            fit = f"GP hyperparameters from the first {anchors[0]} observations"
        else:
            fit = "GP hyperparameters from the first " + ", ".join(
                f"{a} ({o.name})" for o, a in zip(self.objectives, anchors)
            ) + " observations"
        return ", ".join(parts) + f" ({fit})"

    # ------------------------------------------------------------------- samples
    def _design(self, history: Sequence[TrialRecord], why: str) -> Proposal:
        if not self.use_prior:
            config = sobol_configs(self.space, 1, len(history), self.seed, False)[0]
            return Proposal(config=config, fidelity=self.full_fidelity, reason=f"{why}: scrambled Sobol (uniform)")
        mode = self.space.validate(self.space.default())
        if not any(t.config == mode for t in history):
            # What the expert would run without a search: tried first (after any trial the
            # user queued), as SMAC does with a space's default and PriorBand with the mode.
            return Proposal(config=mode, fidelity=self.full_fidelity,
                            reason=f"{why}: the expert prior's own configuration, tried first")
        # Prior and uniform points in turn, each from its own Sobol stream (one stream split
        # by parity would put each half on one side of a coordinate): a misleading prior then
        # cannot keep the whole design, and so the GP's first picture, inside the wrong region.
        through_prior = len(history) % 2 == 1
        stream = self.seed if through_prior else _uniform_stream_seed(self.seed)
        config = sobol_configs(self.space, 1, len(history) // 2, stream, through_prior)[0]
        how = "through the expert priors" if through_prior else "uniform"
        return Proposal(config=config, fidelity=self.full_fidelity, reason=f"{why}: scrambled Sobol ({how})")

    def _fallback(self, history: Sequence[TrialRecord], why: str) -> Proposal:
        use_prior = self.space.has_priors
        config = self.space.sample(self.rng(history, 4), use_prior=use_prior)
        what = "a prior sample" if use_prior else "a uniform sample"
        return Proposal(config=config, fidelity=self.full_fidelity, reason=f"{why}: fell back to {what}")


def _uniform_stream_seed(seed: int) -> int:
    """The scramble seed of the uniform design stream beside the prior one (both fixed by ``seed``)."""
    return int(np.random.SeedSequence([abs(int(seed)), 7]).generate_state(1)[0])


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread, then restore the caller's setting.

    The GP's matrices (a few hundred rows) are far too small for intra-op parallelism: on
    the 2-core machine the default 2 threads made an ask 10-20 times slower than one (0.2 s
    against 2.5-5 s at 40 observations, measured under load) through OpenMP synchronization.
    One thread also makes the floating-point reductions, hence the proposals, the same on
    machines with different core counts, so a study resumed elsewhere decides the same.
    """
    import torch

    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _count(name: str, value: Any, minimum: int, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptimizerError(f"bo: {name} must be a whole number >= {minimum}, got {value!r}")
    return value


def brief(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
