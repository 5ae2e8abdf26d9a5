"""Per-problem reference values from 5,000 uniform random configurations: target, best, median.

The **target** is the full-fidelity value of the first objective that only 1% of uniform
random configurations reach: the 1st percentile of the error (the 99th percentile of
accuracy). Random search at full fidelity needs on average 100 FTE to reach it (median 69).
**Normalized regret** of a best-found value ``y`` is ``(y - best) / (median - best)``, where
``best`` is the known optimum when the problem has one, else the best of the 5,000 random
configurations, and ``median`` their median: 0 is the best known, 1 a typical random config,
below 0 better than any of the 5,000.

Problems that really train (``Problem.trains``: the tabular pipeline) cannot afford 5,000
full runs. Their **target** is the validation error of the pipeline's default configuration
trained for the full length (``problem.default_config()``): FTE-to-target is "FTE until the
search matches or beats the practitioner's default". ``best`` and ``median`` for the regret
come from ``N_RANDOM_TRAINED`` uniform random configurations trained for the full length
(``best`` also counts the default), and ``quantile`` records the share of those random
configurations that reach the target (how hard it is: random search needs about 1/quantile FTE).

Multi-objective problems also get hypervolume references (``MOTargets``): the reference
point of ``benchmarks.multiobjective.reference`` (the worst value of each objective over
5,000 uniform configurations at full fidelity), the hypervolume of those 5,000
configurations' front, and the **hypervolume target**: ``HV_TARGET_SHARE`` (99%) of it: with a reference point that far out,
every front holds most of the volume (random search reaches 95% within a few FTE), so only
the last percent tells optimizers apart.

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
#: Random full-length training runs behind best and median of a problem that really trains.
N_RANDOM_TRAINED = 200
#: The hypervolume target: this share of the hypervolume of the 5,000-random-configuration front.
HV_TARGET_SHARE = 0.99


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
    #: "quantile" (the 1% quantile of random configurations) or "default" (the pipeline's default config)
    rule: str = "quantile"

    def regret(self, value: float | None) -> float:
        """Normalized regret of a best-found value; +inf when nothing has been found yet."""
        if value is None or not np.isfinite(value):
            return float("inf")
        return float((value - self.best) / (self.median - self.best))


def cache_dir() -> Path:
    """Where computed references live: ``$METAML_BENCH_CACHE``, else ``.benchmarks-cache/`` in the repo."""
    env = os.environ.get("METAML_BENCH_CACHE")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[1] / ".benchmarks-cache"


def _trains(problem: Problem) -> bool:
    return bool(getattr(problem, "trains", False))


def _fingerprint(problem: Problem, n: int, seed: int, quantile: float) -> str:
    data: dict[str, Any] = {"problem": problem.fingerprint(), "n": n, "seed": seed, "quantile": quantile}
    if _trains(problem):
        data.update(rule="default", n=N_RANDOM_TRAINED)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def reference_sample(problem: Problem, n: int = N_RANDOM, seed: int = TARGET_SEED
                     ) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The ``n`` uniform configurations behind a problem's targets, and their full-fidelity values (lower better).

    The one place they are drawn: the targets, and whatever else must sit among the same
    configurations (the prior benchmark's good and bad priors), read the same draws.
    """
    rng = np.random.default_rng(seed)
    configs = [problem.space.sample(rng) for _ in range(n)]
    values = problem.evaluate_batch(configs, problem.max_fidelity, seed=0)[problem.primary.name]
    return configs, problem.primary.sign * np.asarray(values, dtype=float)


def compute_targets(problem: Problem, n: int = N_RANDOM, seed: int = TARGET_SEED,
                    quantile: float = TARGET_QUANTILE) -> Targets:
    """Sample ``n`` uniform configurations and evaluate them at full fidelity in one batch."""
    if _trains(problem):
        return _default_targets(problem, seed, quantile)
    started = time.perf_counter()
    _, values = reference_sample(problem, n, seed)  # lower is better from here on
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


def _default_targets(problem: Problem, seed: int, quantile: float) -> Targets:
    """Target: the default configuration's full-length error; best and median from a few hundred random runs."""
    started = time.perf_counter()
    default = problem.default_config()  # type: ignore[attr-defined]
    sign = problem.primary.sign
    target = sign * problem.evaluate(default, problem.max_fidelity)[problem.primary.name]
    _, values = reference_sample(problem, N_RANDOM_TRAINED, seed)
    best_random = float(np.min(values))
    return Targets(
        problem=problem.name, objective=problem.primary.name, target=float(target),
        best=min(best_random, float(target)), best_random=best_random, median=float(np.median(values)),
        quantile=float(np.mean(values <= target)), n=N_RANDOM_TRAINED, seed=seed,
        fingerprint=_fingerprint(problem, N_RANDOM, seed, quantile), seconds=time.perf_counter() - started,
        rule="default",
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


@dataclass(frozen=True)
class MOTargets:
    """Hypervolume references of a multi-objective problem (every objective as a loss)."""

    problem: str
    objectives: list[str]
    reference: list[float]  # the worst of each objective over the random configurations
    hv_random: float  # hypervolume of the random configurations' front
    hv_target: float  # HV_TARGET_SHARE of hv_random
    share: float
    n: int
    fingerprint: str
    seconds: float


def compute_mo_targets(problem: Problem, n: int = N_RANDOM, share: float = HV_TARGET_SHARE) -> MOTargets:
    """The reference point of ``benchmarks.multiobjective`` and the hypervolume of the same random configurations."""
    from benchmarks.multiobjective import reference
    from metaml.objectives import hypervolume, to_loss_matrix

    started = time.perf_counter()
    ref = reference(problem, n)
    rng = np.random.default_rng(0)  # the draw ``reference`` makes: the same 5,000 configurations
    configs = [problem.space.sample(rng) for _ in range(n)]
    values = problem.evaluate_batch(configs, problem.max_fidelity, seed=0)
    rows = [{o.name: float(values[o.name][i]) for o in problem.objectives} for i in range(n)]
    hv = hypervolume(to_loss_matrix(problem.objectives, rows), ref)
    return MOTargets(problem=problem.name, objectives=[o.name for o in problem.objectives],
                     reference=[float(x) for x in ref], hv_random=float(hv), hv_target=float(share * hv), share=share,
                     n=n, fingerprint=_fingerprint(problem, n, 0, share), seconds=time.perf_counter() - started)


def load_mo_targets(problem: Problem, n: int = N_RANDOM, share: float = HV_TARGET_SHARE,
                    cache: Path | None = None) -> MOTargets:
    """The cached hypervolume references of ``problem``, computed and written first when missing or stale."""
    folder = cache if cache is not None else cache_dir()
    path = folder / "targets" / f"{problem.name}-hv.json"
    fingerprint = _fingerprint(problem, n, 0, share)
    if path.is_file():
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            if data.get("fingerprint") == fingerprint:
                return MOTargets(**data)
        except (ValueError, TypeError):
            pass
    targets = compute_mo_targets(problem, n, share)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(asdict(targets), indent=1))
    tmp.replace(path)
    return targets
