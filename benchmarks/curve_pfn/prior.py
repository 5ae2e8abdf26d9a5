"""Synthetic freeze-thaw tasks: loss curves whose shape is a random smooth function of the configuration."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from metaml.optimizers.curve_network import D_MAX, OWN, own_curve

#: The steps a run contributes points at (``freeze_thaw_model.StepScale.kept`` from a lowest step of 1).
STEPS = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96], dtype=float)

Point = tuple[np.ndarray, float]

#: Half the tasks are at most this wide (the first shipped network's width, and wider than LCBench's 7).
NARROW = 12


def steps_to(full: float) -> np.ndarray:
    """The steps a run of full fidelity ``full`` has points at: ``STEPS`` below it, then ``full``."""
    return np.append(STEPS[STEPS < full], full)


class Task:
    """One synthetic problem: ``d`` dimensions (uniform up to ``NARROW`` in half the tasks, up to ``d_max`` in the
    others, so that narrow spaces stay common; the network reads them zero-padded, at random positions), a full
    fidelity ``full``, and the map to curve parameters."""

    def __init__(self, rng: np.random.Generator, d_max: int = D_MAX) -> None:
        self.rng, self.d_max = rng, d_max
        self.d = int(rng.integers(1, (min(d_max, NARROW) if rng.random() < 0.5 else d_max) + 1))
        self.full = float(rng.integers(10, 101))
        width = 16
        relevance = rng.uniform(0, 1, size=self.d) ** 2  # some dimensions matter little
        self.W1 = rng.normal(0, 1, size=(self.d, width)) * rng.uniform(0.5, 4.0) / math.sqrt(self.d)
        self.W1 *= 3 * relevance[:, None]
        self.b1 = rng.normal(0, 1, size=width)
        self.W2 = rng.normal(0, 1, size=(width, 6)) / math.sqrt(width)
        self.mu, self.spread = rng.uniform(math.log(0.005), math.log(0.5)), rng.uniform(0.1, 2.5)
        self.p_stuck = rng.uniform(0, 0.4) * (rng.random() < 0.6)
        self.e_stuck = rng.uniform(0.3, 0.9)
        self.p_over = rng.uniform(0, 0.5)
        self.noise = math.exp(rng.uniform(math.log(0.002), math.log(0.08)))
        self.tau0, self.alpha0 = math.log(self.full) * rng.uniform(-3, 1.0), rng.uniform(-1.0, 1.0)
        self.k_tau, self.k_alpha = rng.uniform(0.5, 3.0), rng.uniform(0.3, 1.5)
        self.slots = rng.permutation(d_max)[: self.d]

    def log_curves(self, X: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Noisy log losses of the configurations ``X`` (n x d) at ``steps``."""
        U = np.tanh(X @ self.W1 + self.b1) @ self.W2
        e_inf = np.minimum(np.exp(self.mu + self.spread * U[:, 0]), 0.95)
        e0 = e_inf + (0.97 - e_inf) / (1 + np.exp(-(2 * U[:, 1] + 1.5)))
        tau = np.exp(self.tau0 + self.k_tau * U[:, 2])
        alpha = np.exp(self.alpha0 + self.k_alpha * U[:, 3])
        over = np.where(self.rng.random(len(X)) < self.p_over, np.log1p(np.exp(2 * U[:, 4] - 1)) * 0.3, 0.0)
        stuck = 1 / (1 + np.exp(-3 * U[:, 5])) > 1 - self.p_stuck
        e_inf = np.where(stuck, self.e_stuck, e_inf)
        e0 = np.where(stuck, np.maximum(e0, self.e_stuck), e0)
        t = steps[None, :]
        e = e_inf[:, None] + (e0 - e_inf)[:, None] * (1 + t / tau[:, None]) ** (-alpha[:, None])
        e = np.minimum(e * (1 + over[:, None] * (t / self.full) ** 2), 0.99)
        return np.log(e) + self.rng.normal(0, self.noise, size=e.shape)

    def padded(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros((len(X), self.d_max))
        out[:, self.slots] = X
        return out

    def study(self, n_runs: int, n_new: int) -> tuple[list[Point], list[Point]]:
        """A freeze-thaw study's points (context) and its questions: every unfinished run's and ``n_new`` untried
        configurations' final log loss (queries, with the answer)."""
        X = self.rng.random((n_runs + n_new, self.d))
        steps = steps_to(self.full)
        return _study(self.rng, self.padded(X), self.log_curves(X, steps), steps, self.full, n_runs)


class SurrogatePool:
    """Curves of one LCBench task through the surrogate, for studies of real curve shapes: ``n`` uniform configurations
    with their log errors at ``STEPS`` below 52 and at 52, drawn once. A study places the configuration's dimensions at
    random slots and mirrors each at random (``x -> 1 - x``), so the network learns how real curves go and how to regress
    across configurations, not where this space's good region lies."""

    def __init__(self, task: int, n: int, rng: np.random.Generator) -> None:
        from benchmarks.problems.lcbench import LCBench

        problem = LCBench(task)
        self.full = float(problem.max_fidelity)
        self.steps = steps_to(self.full)
        configs = [problem.space.sample(rng) for _ in range(n)]
        self.X = np.stack([problem.space.encode(c) for c in configs])
        errors = np.stack([problem.evaluate_batch(configs, float(s))["val_error"] for s in self.steps], axis=1)
        self.y = np.log(np.clip(errors, 1e-4, 1.0))

    def task(self, rng: np.random.Generator, d_max: int) -> SurrogateTask:
        return SurrogateTask(self, rng, d_max)


class SurrogateTask:
    """A study drawn from a ``SurrogatePool``: the interface of ``Task.study``."""

    def __init__(self, pool: SurrogatePool, rng: np.random.Generator, d_max: int) -> None:
        if pool.X.shape[1] > d_max:
            raise ValueError(f"a network {d_max} wide cannot read this task's {pool.X.shape[1]} dimensions")
        self.pool, self.rng, self.d_max = pool, rng, d_max
        self.slots = rng.permutation(d_max)[: pool.X.shape[1]]
        self.mirror = rng.random(pool.X.shape[1]) < 0.5
        self.noise = math.exp(rng.uniform(math.log(0.002), math.log(0.03)))

    def study(self, n_runs: int, n_new: int) -> tuple[list[Point], list[Point]]:
        rng, pool = self.rng, self.pool
        rows = rng.choice(len(pool.X), size=min(n_runs + n_new, len(pool.X)), replace=False)
        X = np.where(self.mirror, 1.0 - pool.X[rows], pool.X[rows])
        y = pool.y[rows] + rng.normal(0, self.noise, size=(len(rows), len(pool.steps)))
        Xp = np.zeros((len(rows), self.d_max))
        Xp[:, self.slots] = X
        return _study(rng, Xp, y, pool.steps, pool.full, min(n_runs, len(rows)))


def _study(rng: np.random.Generator, Xp: np.ndarray, y: np.ndarray, steps: np.ndarray, full: float,
           n_runs: int) -> tuple[list[Point], list[Point]]:
    """The context (each run's points up to a random length) and the queries (the final log loss of every unfinished
    run and of the untried configurations after the first ``n_runs``)."""
    z = np.log(steps) / math.log(full)
    lengths = np.minimum(len(steps), 1 + rng.geometric(rng.uniform(0.15, 0.7), size=n_runs))
    lengths[rng.random(n_runs) < 0.05] = len(steps)
    context = [(np.r_[Xp[i], z[k]], float(y[i, k])) for i in range(n_runs) for k in range(lengths[i])]
    queries = [(np.r_[Xp[i], 1.0, own_curve(z, y[i], int(lengths[i]) if i < n_runs else 0)], float(y[i, -1]))
               for i in range(len(Xp)) if i >= n_runs or lengths[i] < len(steps)]
    return context, queries


def batch(rng: np.random.Generator, size: int, max_context: int = 300, max_queries: int = 60,
          d_max: int = D_MAX, pools: Sequence[SurrogatePool] = (), pool_share: float = 0.0) -> tuple[np.ndarray, ...]:
    """``size`` studies of one run count, padded: (Xc, yc, context padding, Xq, yq, query present); a share
    ``pool_share`` of them drawn from surrogate ``pools`` instead of synthetic tasks."""
    n_runs = int(rng.integers(1, 60))
    studies = []
    for _ in range(size):
        use_pool = bool(pools) and rng.random() < pool_share
        task = pools[int(rng.integers(len(pools)))].task(rng, d_max) if use_pool else Task(rng, d_max)
        context, queries = task.study(n_runs, int(rng.integers(1, 20)))
        studies.append((context[:max_context], [queries[i] for i in rng.permutation(len(queries))[:max_queries]]))
    nc, nq, F = max(len(c) for c, _ in studies), max(len(q) for _, q in studies), d_max + 1
    Xc, yc, pad = np.zeros((size, nc, F)), np.zeros((size, nc)), np.ones((size, nc), dtype=bool)
    Xq, yq, present = np.zeros((size, nq, F + OWN)), np.zeros((size, nq)), np.zeros((size, nq), dtype=bool)
    for b, (c, q) in enumerate(studies):
        Xc[b, : len(c)], yc[b, : len(c)], pad[b, : len(c)] = [x for x, _ in c], [v for _, v in c], False
        Xq[b, : len(q)], yq[b, : len(q)], present[b, : len(q)] = [x for x, _ in q], [v for _, v in q], True
    return Xc, yc, pad, Xq, yq, present
