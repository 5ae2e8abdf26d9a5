"""Per-problem reference values from 5,000 uniform random configurations: target, best, median.

The **target** is the full-fidelity value of the first objective that only 1% of uniform
random configurations reach: the 1st percentile of the error (the 99th percentile of
accuracy). Random search at full fidelity needs on average 100 FTE to reach it (median 69).
**Normalized regret** of a best-found value ``y`` is ``(y - best) / (median - best)``, where
``best`` is the known optimum when the problem has one, else the best of the 5,000 random
configurations, and ``median`` their median: 0 is the best known, 1 a typical random config,
below 0 better than any of the 5,000.

Values are computed once (one vectorized call) and cached as JSON under
``$METAML_BENCH_CACHE`` (default ``.benchmarks-cache/`` in the repository root).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.problems.base import Problem

N_RANDOM = 5000
TARGET_QUANTILE = 0.01
TARGET_SEED = 20240611  # fixed: every run and machine compares against the same reference


@dataclass(frozen=True)
class Targets:
    """Reference values of one problem's first objective (lower is better)."""

    problem: str
    objective: str
    target: float
    best: float  # the best known: the optimum where known, else the best random config
    best_random: float
    median: float
    quantile: float
    n: int
    seed: int
    fingerprint: str
    seconds: float

    def regret(self, value: float | None) -> float:
        """Normalized regret of a best-found value; +inf when nothing has been found yet."""
        if value is None or not np.isfinite(value):
            return float("inf")
        return float((value - self.best) / (self.median - self.best))


def cache_dir() -> Path:
    """Where computed references live: ``$METAML_BENCH_CACHE``, else ``.benchmarks-cache/`` in the repo."""
    env = os.environ.get("METAML_BENCH_CACHE")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[1] / ".benchmarks-cache"


def _fingerprint(problem: Problem, n: int, seed: int, quantile: float) -> str:
    data = {"problem": problem.fingerprint(), "n": n, "seed": seed, "quantile": quantile}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def compute_targets(problem: Problem, n: int = N_RANDOM, seed: int = TARGET_SEED,
                    quantile: float = TARGET_QUANTILE) -> Targets:
    """Sample ``n`` uniform configurations and evaluate them at full fidelity in one batch."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    configs = [problem.space.sample(rng) for _ in range(n)]
    values = problem.evaluate_batch(configs, problem.max_fidelity, seed=0)[problem.primary.name]
    values = problem.primary.sign * np.asarray(values, dtype=float)  # lower is better from here on
    best_random = float(np.min(values))
    best = best_random if problem.optimum is None else min(best_random, problem.primary.sign * problem.optimum)
    return Targets(
        problem=problem.name,
        objective=problem.primary.name,
        target=float(np.quantile(values, quantile)),
        best=best,
        best_random=best_random,
        median=float(np.median(values)),
        quantile=quantile,
        n=n,
        seed=seed,
        fingerprint=_fingerprint(problem, n, seed, quantile),
        seconds=time.perf_counter() - started,
    )


def load_targets(problem: Problem, n: int = N_RANDOM, seed: int = TARGET_SEED,
                 quantile: float = TARGET_QUANTILE, cache: Path | None = None) -> Targets:
    """The cached references of ``problem``, computed and written first when missing or stale."""
    folder = cache if cache is not None else cache_dir()
    path = folder / "targets" / f"{problem.name}.json"
    fingerprint = _fingerprint(problem, n, seed, quantile)
    if path.is_file():
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            if data.get("fingerprint") == fingerprint:
                return Targets(**data)
        except (ValueError, TypeError):
            pass  # a damaged cache file is recomputed
    targets = compute_targets(problem, n, seed, quantile)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(asdict(targets), indent=1))
    tmp.replace(path)  # atomic: parallel runs never read half a file
    return targets
