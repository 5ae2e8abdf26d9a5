"""PB2 (Parker-Holder et al. 2020): population-based training whose explore step is a time-varying GP bandit.

PB2 exploits as PBT does (``metaml.optimizers.pbt``); what differs is how a member that
copies a top member chooses its new schedulable values. Every finished interval of the
round is a data point: the time (its generation), the schedulable values it trained with
(in the unit encoding), and the improvement it made (its parent's loss minus its own). A
Gaussian process with a product kernel, Matern-1/2 over time (older intervals count less, as
the landscape drifts) times an ARD Matern-5/2 over the values, is fitted with BoTorch, and the
values that maximize the upper confidence bound at the coming generation are chosen, the
choices of the members that already exploited in this generation passed as pending points.
Too few data (fewer than ``min_points``) or a fit that fails falls back to PBT's perturbation,
and the proposal's reason says which happened.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from metaml.core.records import TrialRecord
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.explore import explore
from metaml.optimizers.pbt import PBT
from metaml.optimizers.population import EXPLOIT, REPLACE, members, score
from metaml.space import Categorical, Float, Int, Space

log = logging.getLogger(__name__)

#: Random candidates the acquisition is evaluated on (plus perturbations of the parent's values).
CANDIDATES = 512
#: L-BFGS iterations of the GP's hyperparameter fit (a few dozen points: more gain nothing, as for ``bo``).
FIT_MAXITER = 50


class PB2(PBT):
    """PBT with a GP-UCB bandit over recent improvements choosing the exploiting members' schedulable values."""

    name = "pb2"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        population: int = 8,
        interval: float | None = None,
        fraction: float = 0.25,
        factors: Sequence[float] = (0.8, 1.25),
        resample_probability: float = 0.25,
        beta: float = 2.0,
        min_points: int = 4,
    ) -> None:
        super().__init__(space, objectives, seed, population, interval, fraction, factors, resample_probability)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta < 0:
            raise OptimizerError(f"pb2: beta (the exploration weight of the upper confidence bound) must be >= 0, got {beta!r}")
        if isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 2:
            raise OptimizerError(f"pb2: min_points must be a whole number >= 2, got {min_points!r}")
        self.beta, self.min_points = float(beta), min_points
        self._models: dict[bytes, Any] = {}

    @property
    def settings(self) -> dict[str, Any]:
        return {**super().settings, "beta": self.beta, "min_points": self.min_points}

    def explore_values(
        self, parent: TrialRecord, member: int, gen: int, round_: int, rng: np.random.Generator, view: StudyView
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], str]:
        names = [n for n in self.schedulable if n in parent.config]
        X, y = self._data(view, round_, gen, names)
        pending = self._pending(view, round_, gen, names)
        fallback = f"perturbed as PBT does ({len(y)} improvement(s) seen, the GP needs {self.min_points})"
        if len(y) >= self.min_points and names:
            try:
                u = self._maximize(X, y, pending, gen, names, parent.config, rng)
            except Exception as exc:  # a numerical failure of the fit must not stop the study
                log.debug("pb2: GP fit failed: %s", exc)
                fallback = f"perturbed as PBT does (the GP fit failed: {type(exc).__name__})"
            else:
                config = dict(parent.config)
                changes: dict[str, dict[str, Any]] = {}
                for name, value in zip(names, u):
                    new = from_unit(self.space.parameters[name], float(value))  # type: ignore[arg-type]
                    changes[name] = {"from": parent.config[name], "to": new, "how": "GP-UCB"}
                    config[name] = new
                return config, changes, f"GP-UCB on {len(y)} improvements chose"
        config, changes = explore(self.space, parent.config, rng, self.factors, self.resample_probability)
        return config, changes, fallback

    # ---------------------------------------------------------------- the data
    def _data(self, view: StudyView, round_: int, gen: int, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(time, values) and improvement of the round's intervals before ``gen`` that continued a finite parent.

        Only generations before ``gen``: they have all finished, so the data do not depend on which
        trials of this generation happen to have finished (the decision is the same with any number of workers).
        """
        by_number = {t.number: t for t in view.trials}
        rows, ys = [], []
        for place, t in members(view.trials):
            if place.round != round_ or not 0 < place.generation < gen or t.continue_from is None:
                continue
            parent = by_number.get(t.continue_from)
            if parent is None:
                continue
            before, after = score(parent, self.objectives), score(t, self.objectives)
            if not (math.isfinite(before) and math.isfinite(after)):
                continue
            rows.append([place.generation / self.generations, *self._encode(t.config, names)])
            ys.append(before - after)
        return np.asarray(rows, dtype=float).reshape(-1, 1 + len(names)), np.asarray(ys, dtype=float)

    def _pending(self, view: StudyView, round_: int, gen: int, names: Sequence[str]) -> np.ndarray:
        """The values already chosen in this generation by members that exploited (pending points)."""
        rows = [
            [gen / self.generations, *self._encode(t.config, names)]
            for place, t in members(view.trials)
            if place.round == round_ and place.generation == gen and place.action in (EXPLOIT, REPLACE)
        ]
        return np.asarray(rows, dtype=float).reshape(-1, 1 + len(names))

    def _encode(self, config: Mapping[str, Any], names: Sequence[str]) -> list[float]:
        return [to_unit(self.space.parameters[n], config[n]) if n in config else 0.5 for n in names]  # type: ignore[arg-type]

    # -------------------------------------------------------------- the bandit
    def _fit(self, X: np.ndarray, y: np.ndarray, seed: int) -> Any:
        """The GP of these data, fitted once: the members exploiting in one generation share it (a cache only)."""
        import torch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms import Standardize
        from gpytorch.kernels import MaternKernel, ScaleKernel
        from gpytorch.mlls import ExactMarginalLogLikelihood

        key = X.tobytes() + y.tobytes() + str(seed).encode()
        if key in self._models:
            return self._models[key]
        d = X.shape[1] - 1
        with torch.random.fork_rng():
            torch.manual_seed(seed)  # a fit that retries draws new starting points
            time = MaternKernel(nu=0.5, active_dims=torch.tensor([0]))
            values = MaternKernel(nu=2.5, ard_num_dims=d, active_dims=torch.arange(1, d + 1))
            model = SingleTaskGP(
                torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64).unsqueeze(-1),
                covar_module=ScaleKernel(time * values), outcome_transform=Standardize(m=1),
            )
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model),
                             optimizer_kwargs={"options": {"maxiter": FIT_MAXITER}}, max_attempts=2)  # fmt: skip
        model.eval()
        self._models = {key: model}  # one generation's model at a time
        return model

    def _maximize(
        self, X: np.ndarray, y: np.ndarray, pending: np.ndarray, gen: int, names: Sequence[str],
        parent: Mapping[str, Any], rng: np.random.Generator,
    ) -> np.ndarray:
        """The values in [0, 1]^d with the highest upper confidence bound at the coming generation."""
        import torch
        from botorch.acquisition import qUpperConfidenceBound
        from botorch.sampling import SobolQMCNormalSampler

        from metaml.optimizers.bo.optimizer import one_thread

        d = len(names)
        with one_thread():
            # the fit's seed depends on the data's generation only, so a cached fit and a fresh one agree
            model = self._fit(X, y, int(np.random.SeedSequence([self.seed, gen]).generate_state(1)[0] >> 1))
            local = np.clip(np.asarray(self._encode(parent, names)) + rng.normal(0.0, 0.1, size=(64, d)), 0.0, 1.0)
            cands = np.vstack([rng.random((CANDIDATES, d)), local])
            t = np.full((len(cands), 1), gen / self.generations)
            grid = torch.tensor(np.hstack([t, cands]), dtype=torch.float64).unsqueeze(1)
            sampler = SobolQMCNormalSampler(sample_shape=torch.Size([128]), seed=int(rng.integers(2**31)))
            x_pending = torch.tensor(pending, dtype=torch.float64) if len(pending) else None
            acq = qUpperConfidenceBound(model, beta=self.beta, sampler=sampler, X_pending=x_pending)
            with torch.no_grad():
                scores = torch.cat([acq(grid[i : i + 128]) for i in range(0, len(grid), 128)])
        return np.asarray(cands[int(torch.argmax(scores).item())])


def to_unit(param: Float | Int | Categorical, value: Any) -> float:
    """A schedulable value in [0, 1] (an ordered categorical by its position)."""
    if isinstance(param, Categorical):
        order = list(param.ordered)
        return order.index(param.normalize(value)) / max(1, len(order) - 1)
    return float(param.to_unit(value))


def from_unit(param: Float | Int | Categorical, u: float) -> Any:
    if isinstance(param, Categorical):
        order = list(param.ordered)
        return order[int(round(min(1.0, max(0.0, u)) * (len(order) - 1)))]
    return param.from_unit(u)
