"""``freeze_thaw``: a learning-curve model decides, step by step, which paused run to continue or what to start.

Every configuration trained so far is a *run* paused at its checkpoint (``freeze_thaw_runs``).
At each ask a Gaussian process over (configuration, step) (``freeze_thaw_model``) predicts
the final value, at the full fidelity, of every paused run and of a pool of configurations
not yet tried. Each candidate is scored by its expected improvement over the incumbent at
the full fidelity (the acquisition of Deep Power Laws, Kadra et al. 2023, on the model of
freeze-thaw BO, Swersky et al. 2014), divided by ``cost_exponent``-th power of the share
of a full run it still has to train (a paused run at step ``t``: ``(full - t) / full``; a
new configuration: 1), so that an improvement that is nearly paid for counts more; the
best score wins:

* a paused run is **continued** from its checkpoint (``continue_from`` its latest trial) by
  one step: from step ``t`` to ``max(t + 1, growth * t)`` (whole numbers for an integer
  fidelity), so that only the extra steps are paid and the model sees the curve again
  before the next step;
* a new configuration is **started** at the first step: ``min_fidelity``, by default the
  fidelity's lower end, or twice it when that end is under a twentieth of the full fidelity
  (``first_step``: a step that short is mostly the start of training).

The incumbent is the best loss observed at the full fidelity, or, before the first run
gets there, the best loss seen at any step. Improvement is measured on the model's log
scale, so it is relative. ``acquisition: next`` (DyHPO, Wistuba et al. 2022: improvement at
the step a candidate reaches over the best seen there) and ``random`` (ifBO's MFPI-random,
Rakotoarison et al. 2024) are the alternatives measured against it (docs/benchmarks.md).
*Anytime*: once ``first_full_after`` FTE are spent with no run at (or on its way to) the
full fidelity, the run with the best predicted final value goes straight there, so a user
who stops early has a trained pipeline. Runs whose trial failed, was lost or stopped, or
whose curve holds a NaN are frozen for good. Pending and running trials are never proposed
again, and the model is told their points at their predicted values (a "kriging believer"),
so parallel workers get different proposals. Several objectives are scalarized
(``freeze_thaw_runs``: augmented Chebyshev on scaled losses, weights rotating by trial);
expert priors start the study from their configuration, seed the pool and weight the new
configurations' acquisition by ``prior(x) ** (prior_weight / runs)`` (πBO). With
``curve_network`` (off by default), until a run reaches the full fidelity, every prediction
there is joined with that of a network pretrained on synthetic curves (``curve_network``).

The first ``n_initial`` configurations follow a scrambled Sobol design. A model fit that
fails never stops the study: the decision falls back, with a warning in the log, to the
rule of the one-epoch baseline (continue the best run by its first value to the full
fidelity when one is due, else start a new configuration). With ``stop_below`` set (off by
default), the study ends when no candidate's optimistic final value (mean minus two
standard deviations) beats the incumbent by that much: ``propose`` then returns None, and a
study with nothing running stops.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import log_ndtr

from metaml.core.records import Proposal, TrialRecord
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.optimizers.bo.optimizer import brief, one_thread
from metaml.optimizers.curve_network import Joined, load_network
from metaml.optimizers.freeze_thaw_model import (
    CurveModel,
    Encodings,
    Rows,
    StepScale,
    anchor,
    build_rows,
    fit,
    log_expected_improvement,
    transform,
)
from metaml.optimizers.freeze_thaw_runs import BUSY, DONE, PAUSED, Run, build_runs, rotating_weights
from metaml.optimizers.one_epoch import fidelity_setting, top_k_due
from metaml.optimizers.rungs import CONFIG_ID, next_number
from metaml.space import Constant, Space

logger = logging.getLogger(__name__)

#: ``info`` key naming the run (its first trial's number) a trial trains.
RUN = "run"
#: ``next``: expected improvement at the step a candidate would reach, over the best seen there (DyHPO);
#: ``final``: at the full fidelity, over the best seen anywhere (Deep Power Laws).
#: ``random``: probability of beating the best seen by a drawn margin at a drawn horizon (ifBO's MFPI-random).
ACQUISITIONS = ("next", "final", "random")
#: The one-epoch rule of the fallback: this many new configurations per continuation to the end.
FALLBACK_PER_ROUND = 20


#: A lowest step shorter than this share of the full fidelity is skipped by default: new configurations start at twice it.
SHORT_FIRST_STEP = 1.0 / 20.0


def first_step(lower: float, full: float) -> float:
    """Where new configurations start unless ``min_fidelity`` says: the fidelity's lower end, or twice it when
    that end is under ``SHORT_FIRST_STEP`` of the full fidelity (and twice it is still below the full).

    Why: a first step that short is mostly the start of training. On the LCBench surrogate (52 epochs) the
    first epoch's error ranks configurations against their final error with Spearman -0.32 to 0.40 on the
    8 development tasks, the second's with 0.25 to 0.84; starting at 2 epochs reached the 1% target in
    80 of 80 runs at 30 FTE against 73 of 80 from 1 epoch (docs/benchmarks.md, "Freeze-thaw").
    """
    return 2.0 * lower if lower < SHORT_FIRST_STEP * full and 2.0 * lower < full else lower


@dataclass(frozen=True)
class Choice:
    """The decision among the candidates: a paused run to continue, or a configuration to start."""

    run: Run | None
    config: dict[str, Any]
    mean: float  # predicted final loss
    std: float  # on the model's log scale
    score: float
    incumbent: float
    n_paused: int
    n_new: int
    bound: float  # the largest optimistic improvement over the incumbent, in loss units
    #: Why the run goes straight to the full fidelity (the anytime rule), or "" for one step.
    straight: str = ""


class FreezeThaw(Optimizer):
    """Freeze-thaw Bayesian optimization: continue or start, one step at a time, by a model of the curves."""

    name = "freeze_thaw"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        growth: float = 1.5,
        n_initial: int | None = None,
        pool_size: int = 256,
        refit_every: int = 5,
        prior_weight: float | None = 10.0,
        cost_exponent: float = 1.0,
        acquisition: str = "final",
        stop_below: float | None = None,
        first_full_after: float | None = 1.0,
        curve_network: bool | str = False,
    ) -> None:
        super().__init__(space, objectives, seed)
        fid = space.fidelity
        if fid is None:
            raise OptimizerError(
                "freeze_thaw continues runs step by step and needs a Fidelity parameter in the space "
                "(e.g. epochs: {type: fidelity, lower: 1, upper: 50}); without one, use bo"
            )
        if space.n_dims == 0:
            raise OptimizerError("freeze_thaw needs at least one parameter to search; this space has only constants")
        if importlib.util.find_spec("botorch") is None:
            raise OptimizerError("freeze_thaw needs BoTorch: pip install 'botorch>=0.12' (or choose one_epoch)")
        self.min_fidelity, self.max_fidelity = min_fidelity, max_fidelity
        self.full = fidelity_setting(self.name, space, "max_fidelity", max_fidelity, fid.upper)
        self.first = fidelity_setting(self.name, space, "min_fidelity", min_fidelity,
                                      first_step(float(fid.lower), float(self.full)))
        if self.first >= self.full:
            raise OptimizerError(f"freeze_thaw: min_fidelity ({self.first}) must be below max_fidelity ({self.full})")
        self.growth = _number("growth", growth, minimum=1.0)
        self._n_initial = _whole("n_initial", n_initial, 1, optional=True)
        self.pool_size = _whole("pool_size", pool_size, 8)
        self.refit_every = _whole("refit_every", refit_every, 1)
        self.prior_weight = None if prior_weight is None else _number("prior_weight", prior_weight, minimum=0.0)
        self.cost_exponent = _number("cost_exponent", cost_exponent, minimum=0.0)
        if acquisition not in ACQUISITIONS:
            raise OptimizerError(f"freeze_thaw: acquisition must be one of {', '.join(ACQUISITIONS)}, got {acquisition!r}")
        self.acquisition = acquisition
        self.stop_below = None if stop_below is None else _number("stop_below", stop_below, minimum=0.0)
        self.first_full_after = (None if first_full_after is None
                                 else _number("first_full_after", first_full_after, minimum=0.0))
        self.curve_network = _curve_network(curve_network, space)
        self.is_int = fid.is_int
        self.min_step = 1.0 if fid.is_int else (self.full - float(fid.lower)) / 50.0
        self.scale = StepScale(fid, self.full)
        # Speed-ups only, each a pure function of what it is keyed by (a fresh optimizer decides the same):
        self._cache: Any = None  # bo.model.HyperparameterCache, created with the first fit (BoTorch imports late)
        self._encode = Encodings(space)
        self._anchor_memo: tuple[Any, Rows] | None = None
        self._fixed_pool: np.ndarray | None = None

    # ------------------------------------------------------------------ settings
    @property
    def settings(self) -> dict[str, Any]:
        return {
            "min_fidelity": self.min_fidelity, "max_fidelity": self.max_fidelity, "growth": self.growth,
            "n_initial": self._n_initial, "pool_size": self.pool_size, "refit_every": self.refit_every,
            "prior_weight": self.prior_weight, "cost_exponent": self.cost_exponent,
            "acquisition": self.acquisition, "stop_below": self.stop_below, "first_full_after": self.first_full_after,
            "curve_network": self.curve_network,
        }

    @property
    def full_fidelity(self) -> float | None:
        return self.full

    @property
    def n_initial(self) -> int:
        """Configurations of the initial design: twice the parameters, at least 5 and at most 10, unless set."""
        if self._n_initial is not None:
            return self._n_initial
        searched = sum(1 for p in self.space.searchable.values() if not isinstance(p, Constant))
        return min(10, max(5, 2 * searched))

    @property
    def use_prior(self) -> bool:
        return self.space.has_priors and bool(self.prior_weight)

    # ----------------------------------------------------------------------- ask
    def propose(self, view: StudyView) -> Proposal | None:
        history = view.trials
        weights = rotating_weights(len(self.objectives), len(history), self.seed)
        runs = build_runs(view, self.objectives, self.full, weights)
        if len(runs) < self.n_initial or not any(r.losses for r in runs):
            return self._design(history, runs, f"initial design, configuration {len(runs) + 1} of {self.n_initial}")
        from metaml.optimizers.bo.model import GPFitError

        try:
            with one_thread():
                choice, fitted_on = self._choose(view, runs)
        except GPFitError as exc:
            logger.warning("freeze_thaw: the curve model's fit failed at trial %d (%s); one-epoch rule instead",
                           len(history), exc)
            return self._fallback(history, runs, f"the curve model's fit failed ({brief(exc)})")
        except Exception as exc:  # the contract: a numerical failure never stops the study
            logger.warning("freeze_thaw: the model-based decision failed at trial %d", len(history), exc_info=True)
            return self._fallback(history, runs, f"the model-based decision failed ({type(exc).__name__})")
        if self.stop_below is not None and any(r.state == DONE for r in runs) and choice.bound < self.stop_below:
            logger.info("freeze_thaw: converged at trial %d: no candidate can beat the incumbent %.6g by %g "
                        "(largest optimistic improvement %.3g)", len(history), choice.incumbent, self.stop_below,
                        choice.bound)
            return None
        return self._proposal(history, choice, fitted_on)

    def _choose(self, view: StudyView, runs: Sequence[Run]) -> tuple[Choice, int]:
        from metaml.optimizers.bo import model as gp

        if self._cache is None:
            self._cache = gp.HyperparameterCache()
        # The anchor counts only trials that have all finished (the first still running bounds it), so
        # that its data never changes once chosen: workers that see trials end at other times fit the same.
        settled = min((t.number for t in view.trials if not t.status.finished), default=len(view.trials))
        at = anchor(settled, self.n_initial, self.refit_every)
        rows = build_rows(runs, self.scale, self._encode)
        anchor_rows = self._anchor_rows(view, at)
        if anchor_rows.n < 3:
            anchor_rows, at = rows, len(view.trials)
        values = fit(anchor_rows, gp.derived_seed(self.seed, at), self._cache)
        model = CurveModel(rows, values)
        busy = [(x, r) for r in runs if r.state == BUSY and (x := self._encode(r.config)) is not None]
        if busy:
            z = [self.scale.z(float(r.head.fidelity or self.full)) for _, r in busy]
            model = model.with_fantasies(_at(np.stack([x for x, _ in busy]), z))
        if self.curve_network is not False and not any(r.last_step >= self.full - 1e-9 for r in runs):
            model = self._with_network(model)
        return self._acquire(view.trials, runs, model), at

    def _with_network(self, model: CurveModel) -> CurveModel:
        """The model whose full-fidelity predictions are joined with the curve network's (``curve_network``)."""
        return Joined(model, load_network(None if self.curve_network is True else str(self.curve_network)))

    def _anchor_rows(self, view: StudyView, at: int) -> Rows:
        """The rows of the runs as they stood with the trials numbered below ``at`` (memoized on their state)."""
        state = tuple((t.number, t.status.value, t.end_step, len(c := view.curve(t.number)),
                       c[-1].step if c else None) for t in view.trials if t.number < at)
        key = (at, state)
        if self._anchor_memo is None or self._anchor_memo[0] != key:
            runs = build_runs(view, self.objectives, self.full, before=at)
            self._anchor_memo = (key, build_rows(runs, self.scale, self._encode))
        return self._anchor_memo[1]

    def _acquire(self, history: Sequence[TrialRecord], runs: Sequence[Run], model: CurveModel) -> Choice:
        shift, d = model.rows.shift, self.space.n_dims
        paused = [(r, x) for r in runs if r.state == PAUSED and (x := self._encode(r.config)) is not None]
        known = [(r, x) for r in runs if r.losses and (x := self._encode(r.config)) is not None]
        X_known = np.stack([x for _, x in known]) if known else np.zeros((0, d))
        X_paused = np.stack([x for _, x in paused]) if paused else np.zeros((0, d))
        pool = self._pool(history, runs, X_known, np.array([min(r.losses) for r, _ in known]))
        n_run, n_new = len(paused), len(pool)
        steps_run, steps_new, thr_run, thr_new = self._horizons(history, runs, [r for r, _ in paused], shift)
        X = np.concatenate([_at(X_paused, [self.scale.z(t) for t in steps_run]),
                            _at(pool, [self.scale.z(steps_new)] * n_new)])
        final = self.acquisition == "final"
        if self.stop_below is not None and not final:  # the stopping rule looks at the full fidelity
            X = np.concatenate([X, _at(np.concatenate([X_paused, pool]), [1.0] * (n_run + n_new))])
        mean, std = model.predict(X)
        thresholds = np.concatenate([thr_run, np.full(n_new, thr_new)])
        if self.acquisition == "random":
            u = (thresholds - mean[:n_run + n_new]) / std[:n_run + n_new]
            score = np.asarray(log_ndtr(u), dtype=float)
        else:
            score = log_expected_improvement(mean[:n_run + n_new], std[:n_run + n_new], thresholds)
        score[n_run:] += self._prior_term(pool, len(runs))
        if self.cost_exponent and n_run:
            left = np.array([(self.full - r.last_step) / self.full for r, _ in paused])
            score[:n_run] -= self.cost_exponent * np.log(np.maximum(left, 1e-6))
        score = np.nan_to_num(score, nan=-np.inf)
        if not len(score):
            raise RuntimeError("no candidate to score")
        best = int(np.argmax(score))
        straight = self._first_full_due(history, runs) if n_run else ""
        if straight:  # the anytime rule: the run predicted best goes to the end now
            mean_full = mean[:n_run] if final else model.predict(_at(X_paused, [1.0] * n_run))[0]
            best = self._anytime_pick(history, [r for r, _ in paused], mean_full)
        incumbent = float(self._incumbent(runs, [self.full], shift)[0])
        at_full = slice(0, n_run + n_new) if final else slice(n_run + n_new, None)
        optimistic = np.exp(mean[at_full] - 2.0 * std[at_full]) - shift
        bound = float(np.max(np.exp(incumbent) - shift - optimistic)) if len(optimistic) else math.inf
        run = paused[best][0] if best < n_run else None
        config = dict(run.config) if run is not None else self.space.decode(pool[best - n_run])
        return Choice(run, config, float(np.exp(mean[best]) - shift), float(std[best]), float(score[best]),
                      float(np.exp(incumbent) - shift), n_run, n_new, bound, straight)

    def _anytime_pick(self, history: Sequence[TrialRecord], paused: Sequence[Run], mean_full: np.ndarray) -> int:
        """Which paused run the anytime rule sends to the full fidelity: the one predicted best there."""
        return int(np.argmin(mean_full))

    def _spent(self, history: Sequence[TrialRecord]) -> float:
        """FTE charged so far, planned and pending trials included (a continuation pays only its extra steps)."""
        by_number = {t.number: t for t in history}
        spent = 0.0
        for t in history:
            parent = by_number.get(t.continue_from) if t.continue_from is not None else None
            start = float(parent.fidelity or 0.0) if parent is not None else 0.0
            spent += max(0.0, float(t.fidelity or self.full) - start) / self.full
        return spent

    def _first_full_due(self, history: Sequence[TrialRecord], runs: Sequence[Run]) -> str:
        """Why a run must go straight to the full fidelity now ("" when not): none is there or on its way
        although ``first_full_after`` FTE are spent (planned, pending trials included)."""
        if self.first_full_after is None:
            return ""
        if any(r.state == DONE or (r.state == BUSY and float(r.head.fidelity or 0.0) >= self.full) for r in runs):
            return ""
        spent = self._spent(history)
        if spent < self.first_full_after:
            return ""
        return f"no result at the full fidelity after {spent:.2f} FTE (first_full_after {self.first_full_after:g})"

    def _incumbent(self, runs: Sequence[Run], steps: Sequence[float], shift: float) -> np.ndarray:
        """The best log loss seen at each of ``steps`` (each run's first point at or after it), else at any step."""
        anywhere = min((v for r in runs for v in r.losses), default=None)
        best: dict[float, float] = {}
        for step in set(steps):
            at = [next(loss for s, loss in zip(r.steps, r.losses) if s >= step - 1e-9)
                  for r in runs if r.steps and r.steps[-1] >= step - 1e-9]
            value = min(at) if at else anywhere
            best[step] = float(transform(value, shift)) if value is not None else 0.0
        return np.array([best[s] for s in steps], dtype=float)

    def _horizons(self, history: Sequence[TrialRecord], runs: Sequence[Run], paused: Sequence[Run],
                  shift: float) -> tuple[list[float], float, np.ndarray, float]:
        """Where each candidate is judged and against what: (steps of the paused runs, step of a new
        configuration, log-loss thresholds of the paused runs, threshold of a new configuration)."""
        if self.acquisition == "next":
            steps = [float(self.next_step(r)) for r in paused]
            first = float(self.first)
            at_steps = self._incumbent(runs, steps, shift)
            return steps, first, at_steps, float(self._incumbent(runs, [first], shift)[0])
        if self.acquisition == "final":
            thr_full = float(self._incumbent(runs, [self.full], shift)[0])
            return [self.full] * len(paused), self.full, np.full(len(paused), thr_full), thr_full
        # ifBO's MFPI-random: a horizon and a threshold drawn per decision
        rng = self.rng(history, 7)
        span = self.full - float(self.first)
        h = float(rng.integers(1, int(span) + 1)) if self.is_int else float(rng.uniform(self.min_step, span))
        best = min((v for r in runs for v in r.losses), default=0.0) + shift
        margin = float(np.log(max(best * (1.0 - 10.0 ** rng.uniform(-4.0, -1.0)), 1e-12)))
        steps = [min(self.full, max(r.last_step, float(r.head.fidelity or 0.0)) + h) for r in paused]
        new_step = min(self.full, float(self.first) + h - (1.0 if self.is_int else 0.0))
        return steps, new_step, np.full(len(paused), margin), margin

    def _pool(self, history: Sequence[TrialRecord], runs: Sequence[Run], X_known: np.ndarray,
              best_known: np.ndarray) -> np.ndarray:
        """Candidate new configurations: a fixed Sobol pool, and per ask prior samples (with priors), perturbations
        of the runs predicted best and a few more Sobol points; every one a valid configuration not yet run."""
        from metaml.optimizers.bo.acquisition import candidate_pool, project
        from metaml.optimizers.bo.encoding import TrainingData
        from metaml.optimizers.bo.model import derived_seed

        if self._fixed_pool is None:
            from torch.quasirandom import SobolEngine

            sobol = SobolEngine(self.space.n_dims, scramble=True, seed=derived_seed(self.seed, 5))
            self._fixed_pool = project(self.space, sobol.draw(self.pool_size).double().numpy())
        data = TrainingData(X_known, best_known.reshape(-1, 1), np.zeros((0, self.space.n_dims)), len(X_known), 0)
        fresh = candidate_pool(self.space, data, self.rng(history, 5), max(8, self.pool_size // 4),
                               derived_seed(self.seed, len(history), 5), self.use_prior)
        taken = {x.tobytes() for r in runs if (x := self._encode(r.config)) is not None}
        pool = [x for x in np.concatenate([self._fixed_pool, fresh]) if x.tobytes() not in taken]
        return np.stack(pool) if pool else np.zeros((0, self.space.n_dims))

    def _prior_term(self, pool: np.ndarray, n_runs: int) -> np.ndarray:
        if not self.use_prior or not len(pool):
            return np.zeros(len(pool))
        import torch

        from metaml.optimizers.bo.acquisition import LogPrior

        with torch.no_grad():
            log_prior = LogPrior(self.space)(torch.as_tensor(pool, dtype=torch.float64)).numpy()
        return float(self.prior_weight or 0.0) / max(1, n_runs) * log_prior

    # ----------------------------------------------------------------- proposals
    def next_step(self, run: Run) -> float:
        """Where a continuation of ``run`` ends: one step (``growth`` times, at least the smallest step) further."""
        t = max(run.last_step, float(run.head.fidelity or 0.0))
        target = min(self.full, max(t + self.min_step, t * self.growth))
        return int(math.ceil(target - 1e-9)) if self.is_int else float(target)

    def _proposal(self, history: Sequence[TrialRecord], choice: Choice, fitted_on: int) -> Proposal:
        where = "full fidelity" if self.acquisition == "final" else "the step it reaches"
        info: dict[str, Any] = {"acquisition": f"log EI at {where}", "predicted": choice.mean,
                                "predicted_log_std": choice.std, "incumbent": choice.incumbent,
                                "hyperparameters_from": fitted_on}
        among = f"among {choice.n_paused} paused runs and {choice.n_new} new candidates"
        expect = f"predicted {choice.mean:.4g} (log std {choice.std:.2g}); the incumbent is {choice.incumbent:.4g}"
        if choice.run is None:
            number = next_number(history)
            return Proposal(config=choice.config, fidelity=self.first,
                            reason=f"new configuration at {self.first:g}: the largest expected improvement at {where} "
                                   f"{among}, {expect}",
                            info={**info, RUN: number, CONFIG_ID: number})
        run, step = choice.run, self.next_step(choice.run)
        if choice.straight:
            return Proposal(config=dict(run.config), fidelity=self.full, continue_from=run.head.number,
                            reason=f"continues run {run.root} from {run.last_step:g} straight to {self.full:g} "
                                   f"(trial {run.head.number}): {choice.straight}, and its predicted final value "
                                   f"{choice.mean:.4g} is the best of the {choice.n_paused} paused runs",
                            info={**info, RUN: run.root, CONFIG_ID: run.root, "anytime": True})
        return Proposal(config=dict(run.config), fidelity=step, continue_from=run.head.number,
                        reason=f"continues run {run.root} from {run.last_step:g} to {step:g} (trial {run.head.number}): "
                               f"the largest expected improvement at {where} {among}, {expect}",
                        info={**info, RUN: run.root, CONFIG_ID: run.root})

    def _design(self, history: Sequence[TrialRecord], runs: Sequence[Run], why: str) -> Proposal:
        from metaml.optimizers.bo.prior import sobol_configs

        number = next_number(history)
        info = {RUN: number, CONFIG_ID: number}
        if self.use_prior:
            mode = self.space.validate(self.space.default())
            if not any(r.config == mode for r in runs):
                return Proposal(config=mode, fidelity=self.first, reason=f"{why}: the expert prior's configuration",
                                info=info)
        # With priors, prior and uniform points in turn, each from its own Sobol stream (as bo's design).
        through_prior = self.use_prior and len(runs) % 2 == 1
        stream = self.seed if through_prior or not self.use_prior else self.seed + 7919
        index = len(runs) // 2 if self.use_prior else len(runs)
        config = sobol_configs(self.space, 1, index, stream, through_prior)[0]
        how = "through the expert priors" if through_prior else "uniform"
        return Proposal(config=config, fidelity=self.first, reason=f"{why}: scrambled Sobol ({how})", info=info)

    def _fallback(self, history: Sequence[TrialRecord], runs: Sequence[Run], why: str) -> Proposal:
        """The one-epoch rule: the best paused run by its first value to the end when due, else a new sample."""
        at_full = sum(1 for r in runs if r.state == DONE or (r.state == BUSY and r.head.fidelity == self.full))
        started = sum(1 for r in runs if r.losses)
        paused = sorted((r for r in runs if r.state == PAUSED), key=lambda r: (r.losses[0], r.root))
        number = next_number(history)
        if paused and top_k_due(started, at_full, FALLBACK_PER_ROUND, 1):
            run = paused[0]
            return Proposal(config=dict(run.config), fidelity=self.full, continue_from=run.head.number,
                            reason=f"{why}: one-epoch rule, the best of {started} runs by its first value continues "
                                   f"to {self.full:g}", info={RUN: run.root, CONFIG_ID: run.root, "fallback": True})
        config = self.space.sample(self.rng(history, 6), use_prior=self.space.has_priors)
        return Proposal(config=config, fidelity=self.first, reason=f"{why}: one-epoch rule, a new sample",
                        info={RUN: number, CONFIG_ID: number, "fallback": True})


def _at(X: np.ndarray, z: Sequence[float]) -> np.ndarray:
    """Encoded configurations (rows of ``X``) with the step column set to ``z``."""
    rows = X.reshape(len(z), X.shape[-1]) if X.size == 0 else X.reshape(len(z), -1)  # none: (0, d), not an error
    return np.concatenate([rows, np.asarray(z, dtype=float).reshape(-1, 1)], axis=1)


def _number(name: str, value: Any, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        raise OptimizerError(f"freeze_thaw: {name} must be a number >= {minimum:g}, got {value!r}")
    return float(value)


def _whole(name: str, value: Any, minimum: int, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptimizerError(f"freeze_thaw: {name} must be a whole number >= {minimum}, got {value!r}")
    return value


def _curve_network(setting: Any, space: Space) -> bool | str:
    """``curve_network``: False, True (the shipped weights) or the path of weights ``benchmarks.curve_pfn train`` wrote."""
    if setting is False or setting is None:
        return False
    if setting is not True and not isinstance(setting, str):
        raise OptimizerError(f"freeze_thaw: curve_network must be true, false or a path to weights, got {setting!r}")
    if isinstance(setting, str) and not Path(setting).is_file():
        raise OptimizerError(f"freeze_thaw: curve_network: no weights file at {setting!r} "
                             "(python -m benchmarks.curve_pfn train writes one; true uses the shipped weights)")
    try:  # here, so that weights of another network are refused before any trial, not at every ask
        net = load_network(setting if isinstance(setting, str) else None)
    except Exception as exc:
        which = f"the weights at {setting!r}" if isinstance(setting, str) else "the weights shipped with metaml"
        raise OptimizerError(f"freeze_thaw: curve_network: {which} do not load into the curve network "
                             f"({brief(exc)}; reinstall metaml, or leave curve_network off)") from exc
    if space.n_dims > net.d_max:
        raise OptimizerError(f"freeze_thaw: curve_network reads spaces of at most {net.d_max} encoded dimensions; this "
                             f"one has {space.n_dims}, a categorical counting one per choice (leave curve_network off, "
                             "or fix some parameters as constants)")
    return setting
