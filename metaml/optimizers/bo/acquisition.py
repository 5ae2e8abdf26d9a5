"""Acquisition: qLogNEI / qLogNEHVI with limits as constraints, πBO weighting, and its maximizer.

* **One objective**: qLogNoisyExpectedImprovement (Ament et al. 2023). It takes pending
  points (``X_pending``, integrated over jointly), noisy observations and constraints in one
  function, where analytic LogEI takes none of them.
* **Several objectives**: qLogNoisyExpectedHypervolumeImprovement, with the reference point
  of ``metaml.objectives.reference_point`` (the limits where given, else the worst loss seen
  plus 10%).
* **Limits** become outcome constraints on the modelled objectives (``loss <= sign*limit``),
  so the acquisition weighs improvement by the probability of feasibility.
* **πBO** (Hvarfner et al. 2022): with expert priors the acquisition is multiplied by
  ``prior(x) ** (beta / n)``; the acquisitions here are logs, so ``beta / n * log prior(x)``
  is added. The prior pulls the first proposals towards the expert's belief and fades as
  observations accumulate (``n``), so a misleading prior cannot stop convergence.

**Maximizing over a mixed space** (why not ``optimize_acqf_mixed``: it enumerates every
combination of categorical values, which explodes with a few categoricals, and needs an
index encoding that inactive categoricals do not have). Candidates are always *valid*
points, ``encode(decode(x))``, so the acquisition is judged where the trial will really run:

1. a pool of ``raw_samples`` valid points: a scrambled Sobol sample of the cube, samples
   from the priors (when πBO is on) and perturbations of the best observations;
2. the best ``num_restarts`` pool points start L-BFGS-B (``optimize_acqf``) over the
   numeric columns, with each start's one-hot columns held fixed (a relaxed one-hot point
   is no configuration); integers move continuously and are rounded by the projection;
3. the optimized points are projected, the best one's discrete neighbours (every other
   choice of each categorical, each integer one step up and down) are added, and the best
   valid point that is neither observed nor pending wins.

The cost of an acquisition value grows with the observations, so two caps keep an ask
fast at hundreds of trials: the noisy acquisitions consider the best ``MAX_BASELINE``
observations as possible incumbents, and past ``MAX_MODEL_POINTS`` the GP conditions on
the best half and an even spread of the rest (``model_subset``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.models.model import Model
from botorch.optim import optimize_acqf
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor

from metaml.objectives import Objective, pareto_ranks, reference_point

# BoTorch compiles a C++ kernel for qLogNEHVI the first time it is built in a process (a
# compiler run of many seconds, behind a lock file that a killed process leaves behind, after
# which every later process waits forever). The pure-PyTorch path gives the same values:
# metaml uses it unless METAML_BOTORCH_FUSED=1 asks for the kernel.
if os.environ.get("METAML_BOTORCH_FUSED") != "1":
    import botorch.acquisition.multi_objective.logei as _botorch_mo_logei

    _botorch_mo_logei._load_attempted = True
from metaml.optimizers.bo.encoding import TrainingData
from metaml.optimizers.bo.model import DTYPE
from metaml.optimizers.bo.prior import PRIOR_FLOOR, categorical_priors, numeric_priors
from metaml.space import Categorical, Float, Int, Space

#: Quasi-MC samples of the posterior per acquisition value.
MC_SAMPLES = 64
#: L-BFGS-B iterations of the acquisition maximizer. The starts are the best of a scored pool,
#: and more iterations (20, 40) did not lower the regret on Branin or on a mixed 6-parameter
#: quadratic, while each sequential iteration costs about as much as scoring 100 pool points.
ACQ_MAXITER = 8
#: Observations the GP conditions on at most (see ``model_subset``).
MAX_MODEL_POINTS = 300
#: Observations the noisy acquisitions consider as incumbents (see ``baseline_rows``).
MAX_BASELINE = 16
_LOG_FLOOR = float(np.log(PRIOR_FLOOR))


class LimitConstraint:
    """``loss_j - sign*limit`` on the model's (negated-loss) outputs: feasible where it is <= 0."""

    def __init__(self, column: int, bound: float) -> None:
        self.column, self.bound = column, bound

    def __call__(self, Y: Tensor) -> Tensor:
        return -Y[..., self.column] - self.bound


def limit_constraints(objectives: Sequence[Objective]) -> list[Callable[[Tensor], Tensor]]:
    return [LimitConstraint(j, o.sign * o.limit) for j, o in enumerate(objectives) if o.limit is not None]


def build_acquisition(
    model: Model, data: TrainingData, objectives: Sequence[Objective], seed: int
) -> tuple[AcquisitionFunction, str]:
    """The log-acquisition for ``objectives`` and its short name for the proposal's reason."""
    X_baseline = torch.as_tensor(data.X[baseline_rows(data, objectives)], dtype=DTYPE)
    X_pending = torch.as_tensor(data.pending, dtype=DTYPE) if len(data.pending) else None
    sampler = SobolQMCNormalSampler(torch.Size([MC_SAMPLES]), seed=seed)
    constraints = limit_constraints(objectives) or None
    if len(objectives) == 1:
        return (
            qLogNoisyExpectedImprovement(
                model, X_baseline, sampler=sampler, X_pending=X_pending, constraints=constraints, prune_baseline=True
            ),
            "qLogNEI",
        )
    ref = -reference_point(objectives, data.losses)
    return (
        qLogNoisyExpectedHypervolumeImprovement(
            model,
            ref_point=ref.tolist(),
            X_baseline=X_baseline,
            sampler=sampler,
            constraints=constraints,
            X_pending=X_pending,
            prune_baseline=True,
        ),
        "qLogNEHVI",
    )


def model_subset(data: TrainingData, objectives: Sequence[Objective], cap: int = MAX_MODEL_POINTS) -> TrainingData:
    """At most ``cap`` observations for the GP to condition on: the best half, and the rest evenly spread.

    Each acquisition value costs time in proportion to the observations the GP conditions
    on; past ``cap`` the best observations (where accuracy decides the next proposal) all
    stay and the others thin out, which keeps an ask within its latency budget.
    """
    if data.n <= cap:
        return data
    best = baseline_rows(data, objectives, cap // 2)
    rest = np.setdiff1d(np.arange(data.n), best)
    spread = rest[np.unique(np.round(np.linspace(0, len(rest) - 1, cap - len(best))).astype(int))]
    keep = np.sort(np.concatenate([best, spread]))
    return replace(data, X=data.X[keep], losses=data.losses[keep])


def baseline_rows(data: TrainingData, objectives: Sequence[Objective], cap: int = MAX_BASELINE) -> np.ndarray:
    """The observations that may be the incumbent: the best ``cap``, feasible first, by loss or Pareto rank.

    Noisy EI and EHVI integrate over which observed point is really the best (or on the
    front), jointly with the candidate: each acquisition value costs time in proportion to
    this set (at 200 observations and two objectives, 32 points took 0.85 s per ask, 16
    took 0.6 s, for the same proposal). Points far behind the best have no chance of it.
    When the feasible front alone has more than ``cap`` points, an even spread along it
    (by the first objective) stands for it.
    """
    if data.n <= cap:
        return np.arange(data.n)
    limits = np.array([o.sign * o.limit if o.limit is not None else np.inf for o in objectives])
    infeasible = np.any(data.losses > limits, axis=1)
    if data.losses.shape[1] == 1:
        return np.sort(np.lexsort((data.losses[:, 0], infeasible))[:cap])
    rank = np.zeros(data.n, dtype=int)
    for group in (~infeasible, infeasible):
        if group.any():
            rank[group] = pareto_ranks(data.losses[group])
    order = np.lexsort((rank, infeasible))
    front = order[(rank[order] == 1) & ~infeasible[order]]
    if len(front) > cap:
        front = front[np.argsort(data.losses[front, 0], kind="stable")]
        return np.sort(front[np.unique(np.round(np.linspace(0, len(front) - 1, cap)).astype(int))])
    return np.sort(order[:cap])


class LogPrior(torch.nn.Module):
    """Log prior density of encoded points (``... x d`` to ``...``), over active parameters with a prior.

    Numeric terms are differentiable truncated-normal log densities; a categorical counts
    through its arg-max choice (constant between vertices, which the maximizer holds fixed).
    """

    def __init__(self, space: Space) -> None:
        super().__init__()
        self.space = space
        self.numeric = numeric_priors(space)
        self.categorical = categorical_priors(space)
        names = [p.name for p in self.numeric] + [p.name for p in self.categorical]
        self.conditional = any(space.conditions.get(name) for name in names)

    def forward(self, X: Tensor) -> Tensor:
        flat = X.reshape(-1, X.shape[-1])
        active = self._activity(flat)
        total = torch.zeros(flat.shape[0], dtype=X.dtype)
        for k, p in enumerate(self.numeric):
            z = (flat[:, p.column].clamp(0.0, 1.0) - p.mean) / p.std
            term = (-0.5 * z**2 - p.log_norm).clamp_min(_LOG_FLOOR)
            total = total + (term if active is None else term * active[:, k])
        offset = len(self.numeric)
        for k, c in enumerate(self.categorical):
            choice = flat[:, c.start : c.stop].argmax(dim=-1)
            term = torch.as_tensor(c.log_probs, dtype=X.dtype)[choice]
            total = total + (term if active is None else term * active[:, offset + k])
        return total.reshape(X.shape[:-1])

    def _activity(self, flat: Tensor) -> Tensor | None:
        """Which prior terms are active at each point (None: all, as in a space without conditions)."""
        if not self.conditional:
            return None
        names = [p.name for p in self.numeric] + [p.name for p in self.categorical]
        rows = flat.detach().cpu().numpy()
        mask = np.array([[name in config for name in names] for config in map(self.space.decode, rows)], dtype=float)
        return torch.as_tensor(mask, dtype=flat.dtype)


class PriorWeighted(AcquisitionFunction):
    """πBO on a log acquisition: ``log a(x) + weight * log prior(x)`` with ``weight = beta / n``."""

    def __init__(self, acquisition: AcquisitionFunction, log_prior: LogPrior, weight: float) -> None:
        super().__init__(model=acquisition.model)
        self.acquisition = acquisition
        self.log_prior = log_prior
        self.weight = weight

    def forward(self, X: Tensor) -> Tensor:
        return self.acquisition(X) + self.weight * self.log_prior(X).sum(dim=-1)


def project(space: Space, X: np.ndarray) -> np.ndarray:
    """Each row replaced by the encoding of the configuration it decodes to (a valid point)."""
    return np.stack([space.encode(space.decode(x)) for x in X]) if len(X) else X


def neighbours(space: Space, x: np.ndarray) -> np.ndarray:
    """Valid points one discrete step from ``x``: another choice of a categorical, an integer +-1."""
    config = space.decode(x)
    out: list[np.ndarray] = []
    for dim in space.dimensions:
        param = space.parameters[dim.name]
        if dim.name not in config:
            continue
        if isinstance(param, Categorical):
            for k in range(dim.stop - dim.start):
                if param.choices[k] != config[dim.name]:
                    y = x.copy()
                    y[dim.start : dim.stop] = 0.0
                    y[dim.start + k] = 1.0
                    out.append(y)
        elif isinstance(param, Int):
            for step in (-1, 1):
                value = config[dim.name] + step
                if param.lower <= value <= param.upper:
                    y = x.copy()
                    y[dim.start] = param.to_unit(value)
                    out.append(y)
    return project(space, np.stack(out)) if out else np.zeros((0, len(x)))


def candidate_pool(
    space: Space, data: TrainingData, rng: np.random.Generator, size: int, seed: int, use_prior: bool
) -> np.ndarray:
    """``size`` valid points: Sobol over the cube, prior samples (with πBO), and perturbed best points."""
    from torch.quasirandom import SobolEngine

    n_local = size // 4 if data.n else 0
    n_prior = size // 4 if use_prior else 0
    sobol = SobolEngine(space.n_dims, scramble=True, seed=seed).draw(size - n_local - n_prior).double().numpy()
    parts = [sobol]
    if n_prior:
        parts.append(np.stack([space.encode(space.sample(rng, use_prior=True)) for _ in range(n_prior)]))
    if n_local:
        parts.append(_perturbed_best(space, data, rng, n_local))
    return project(space, np.concatenate(parts))


def _perturbed_best(space: Space, data: TrainingData, rng: np.random.Generator, count: int) -> np.ndarray:
    """Gaussian steps (0.1 of the cube) around the best observations; a categorical switches with p = 1/#params."""
    order = np.argsort(data.losses.sum(axis=1) if data.losses.shape[1] > 1 else data.losses[:, 0], kind="stable")
    best = data.X[order[: min(5, len(order))]]
    base = best[rng.integers(len(best), size=count)]
    out = base + rng.normal(0.0, 0.1, size=base.shape)
    numeric = [d.start for d in space.dimensions if isinstance(space.parameters[d.name], Float)]
    mask = np.zeros(space.n_dims, dtype=bool)
    mask[numeric] = True
    out = np.where(mask, np.clip(out, 0.0, 1.0), base)
    switch = 1.0 / max(1, len(space.dimensions))
    for dim in space.dimensions:
        if isinstance(space.parameters[dim.name], Categorical):
            flip = rng.random(count) < switch
            picks = rng.integers(dim.stop - dim.start, size=count)
            for i in np.flatnonzero(flip):
                out[i, dim.start : dim.stop] = 0.0
                out[i, dim.start + picks[i]] = 1.0
    return out


def evaluate(acquisition: AcquisitionFunction, X: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Acquisition values of the rows of ``X`` (q = 1 each), without gradients."""
    values = []
    with torch.no_grad():
        for start in range(0, len(X), chunk):
            batch = torch.as_tensor(X[start : start + chunk], dtype=DTYPE).unsqueeze(-2)
            values.append(acquisition(batch).detach().cpu().numpy())
    return np.concatenate(values) if values else np.zeros(0)


def maximize(
    acquisition: AcquisitionFunction,
    space: Space,
    pool: np.ndarray,
    observed: np.ndarray,
    num_restarts: int,
) -> np.ndarray:
    """The best valid point that is not one of ``observed`` (observed or pending; see the module docstring)."""
    pool_values = evaluate(acquisition, pool)
    taken = {x.tobytes() for x in observed}
    # num_restarts 0: no gradient steps, the pool and the best point's neighbours decide (BOHB's model sampler)
    starts_idx = _top_unique(pool, pool_values, num_restarts, set()) if num_restarts > 0 else []
    candidates = [pool[_top_unique(pool, pool_values, max(num_restarts, 8), taken)]]
    onehot = [c for d in space.dimensions if isinstance(space.parameters[d.name], Categorical) for c in range(d.start, d.stop)]
    if len(onehot) < space.n_dims and len(starts_idx):
        starts = torch.as_tensor(pool[starts_idx], dtype=DTYPE).unsqueeze(-2)
        fixed = {c: starts[:, 0, c].clone() for c in onehot}
        optimized, _ = optimize_acqf(
            acquisition,
            bounds=torch.stack([torch.zeros(space.n_dims, dtype=DTYPE), torch.ones(space.n_dims, dtype=DTYPE)]),
            q=1,
            num_restarts=len(starts_idx),
            batch_initial_conditions=starts,
            fixed_features=fixed or None,
            options={"maxiter": ACQ_MAXITER},
            return_best_only=False,
            retry_on_optimization_warning=False,
        )
        candidates.append(project(space, optimized.detach().reshape(-1, space.n_dims).cpu().numpy()))
    X = np.concatenate(candidates)
    values = evaluate(acquisition, X)
    best = _top_unique(X, values, 1, taken)
    if len(best):
        around = neighbours(space, X[best[0]])
        if len(around):
            X, values = np.concatenate([X, around]), np.concatenate([values, evaluate(acquisition, around)])
    best = _top_unique(X, values, 1, taken)
    # Every valid point already observed or pending (a tiny discrete space): take the best anyway.
    return X[best[0]] if len(best) else X[int(np.argmax(values))]


def _top_unique(X: np.ndarray, values: np.ndarray, k: int, taken: set[bytes]) -> list[int]:
    """Indices of the ``k`` best distinct rows not in ``taken`` (ties broken by position)."""
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    chosen: list[int] = []
    seen = set(taken)
    for i in order:
        key = X[i].tobytes()
        if key in seen:
            continue
        seen.add(key)
        chosen.append(int(i))
        if len(chosen) == k:
            break
    return chosen
