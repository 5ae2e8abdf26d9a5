"""Simulate optimizers on benchmark problems through their pure contract, and measure them.

No store and no executor: an optimizer is a pure function of (seed, history), so the runner
keeps the history as an in-memory list of completed ``TrialRecord``s, asks, evaluates the
problem at the proposed fidelity, and appends. That makes a run of hundreds of trials take
milliseconds of simulation, leaving the optimizer's own ``ask`` as the measured overhead.

Costs follow the design's FTE rule: a fresh trial at fidelity f costs f / f_max; a trial that
continues trial k (``proposal.continue_from``) from k's fidelity f_k costs (f - f_k) / f_max.
A ``-scratch`` variant of an optimizer makes the same decisions but pays f / f_max for every
trial, as if promoted runs were retrained from scratch: the gap is what continuation saves.

Peers (``benchmarks.peers``: Optuna, SMAC3, DEHB, NePS, Syne Tune) go through the same loop:
a peer's ``ask()`` says what to train (config, fidelity, the evaluation it continues or None)
and ``tell()`` hears the result, so the same lines charge them. The optimizer's overhead is
the run's wall time minus the problem's evaluation time.

Learning curves: every epoch a trial trains is recorded as an ``Observation`` (the problem's
metrics at that step, one vectorized call), as ``trial.report`` records it in a real study: a
fresh trial to ``f`` yields steps ``1..f``, a continuation from ``a`` to ``b`` yields ``a+1..b``
under its own number. The optimizer sees them in ``view.curve(number)``; optimizers that decide
on final metrics alone (every one but ``freeze_thaw``) decide exactly as without them.
"""

from __future__ import annotations

import json
import math
import platform
import shlex
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers import Peer, Request, is_peer, make_peer, peer_versions, preload
from benchmarks.problems.base import Problem
from benchmarks.targets import Targets
from metaml.core.records import Changes, Observation, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.core.warm_start import PriorStudy
from metaml.errors import MetamlError
from metaml.optimizers import Optimizer, make_optimizer

#: FTE at which normalized regret is reported.
CHECKPOINTS: tuple[float, ...] = (3.0, 5.0, 10.0, 30.0)
SCRATCH = "-scratch"
#: A safety net against optimizers that propose zero-cost trials forever.
MAX_EVALUATIONS = 100_000


def optimizer_spec(name: str) -> str | dict[str, Any]:
    """A registered name, or ``NAME@KEY=VALUE+KEY=VALUE`` as the mapping ``make_optimizer`` takes (values as
    JSON where they parse, else text): settings in a benchmark's comma-separated list of optimizers."""
    if "@" not in name:
        return name
    base, _, rest = name.partition("@")
    spec: dict[str, Any] = {"name": base}
    for item in filter(None, rest.split("+")):
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise MetamlError(f"optimizer {name!r}: a setting is KEY=VALUE, got {item!r}")
        try:
            spec[key] = json.loads(text)
        except json.JSONDecodeError:
            spec[key] = text
    return spec


def split_optimizers(text: str | None) -> list[str]:
    """A comma-separated list of optimizer specs; a comma inside ``{...}`` or ``[...]`` (a JSON setting) does not split."""
    out: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text or "":
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        if ch == "," and depth <= 0:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return [o.strip() for o in out if o.strip()]


def split_name(name: str) -> tuple[str, bool]:
    """(registered optimizer name, whether promotions are charged as retraining from scratch)."""
    if name.endswith(SCRATCH):
        return name[: -len(SCRATCH)], True
    return name, False


@dataclass
class Evaluation:
    """One simulated trial, as the runner charged it."""

    number: int
    fidelity: float
    start: float
    cost: float
    cumulative: float
    value: float  # first objective, lower is better
    full: bool


@dataclass
class RunLog:
    """What happened in one run, before it is reduced to measures."""

    evaluations: list[Evaluation] = field(default_factory=list)
    ask_seconds: list[float] = field(default_factory=list)
    stopped: str = "budget"
    error: str | None = None
    wall_seconds: float = 0.0  # the whole run: building the optimizer, asks, evaluations, tells
    problem_seconds: float = 0.0  # the problem's evaluations alone

    @property
    def overhead_seconds(self) -> float:
        """What the optimizer itself cost: the run's wall time minus the problem's."""
        return max(0.0, self.wall_seconds - self.problem_seconds)


def simulate(problem: Problem, optimizer: str | Optimizer | Peer, seed: int, budget_fte: float, scratch: bool = False,
             max_evaluations: int = MAX_EVALUATIONS, time_box_s: float | None = None,
             warm_start: Sequence[PriorStudy] = (),
             ) -> tuple[RunLog, list[TrialRecord], dict[str, Any]]:
    """Run ``optimizer`` on ``problem`` until ``budget_fte`` is spent; return the log, history, settings.

    ``optimizer`` is a registered metaml name or a peer spec (``NAME-scratch`` sets ``scratch``),
    a built optimizer, or a built peer. ``time_box_s`` ends the run early (``stopped`` says so)
    once that much wall time has passed: the FTE spent so far stands, later checkpoints are unreached.
    ``warm_start`` are earlier studies the optimizer sees on its view, as a warm-started study's.
    """
    log = RunLog()
    if isinstance(optimizer, str):
        optimizer, scratch = split_name(optimizer)
        if is_peer(optimizer):
            preload(optimizer)  # a library's first import is not the optimizer's overhead
    started = time.perf_counter()
    if isinstance(optimizer, str) and is_peer(optimizer):
        optimizer = make_peer(optimizer, problem, seed, budget_fte)
    driver: Optimizer | Peer = (optimizer if isinstance(optimizer, Peer)
                                else make_optimizer(optimizer_spec(optimizer) if isinstance(optimizer, str) else optimizer,
                                                    problem.space, problem.objectives, seed))
    try:
        history = _loop(problem, driver, seed, budget_fte, scratch, max_evaluations, time_box_s, log, started,
                        tuple(warm_start))
    finally:
        if isinstance(driver, Peer):
            driver.close()
        log.wall_seconds = time.perf_counter() - started
    if isinstance(driver, Peer):
        settings = {**driver.settings, "continues": driver.continues, "charging": driver.charging}
    else:
        settings = dict(driver.settings)
    return log, history, settings


def _ask(driver: Optimizer | Peer, view: StudyView) -> Request | None:
    """The next evaluation as a Request, from a metaml optimizer or a peer alike."""
    if isinstance(driver, Peer):
        return driver.ask()
    proposal = driver.propose(view)
    if proposal is None:
        return None
    return Request(proposal.config, proposal.fidelity, proposal.continue_from, dict(proposal.info))


def _loop(problem: Problem, driver: Optimizer | Peer, seed: int, budget_fte: float, scratch: bool,
          max_evaluations: int, time_box_s: float | None, log: RunLog, started: float,
          warm_start: tuple[PriorStudy, ...] = ()) -> list[TrialRecord]:
    f_max = problem.max_fidelity
    sign = problem.primary.sign
    history: list[TrialRecord] = []
    view = StudyView(warm_start=warm_start)  # the history and its curves, extended by each evaluation
    trained = 0.0  # in fidelity units (epochs): exact sums, so that 81 epochs of 27 are exactly 3 FTE
    while trained / f_max < budget_fte:
        if len(history) >= max_evaluations:
            log.stopped = f"stopped after {max_evaluations} evaluations"
            break
        if time_box_s is not None and time.perf_counter() - started > time_box_s:
            log.stopped = f"time-box {time_box_s:g} s"
            break
        try:
            t0 = time.perf_counter()
            request = _ask(driver, view)
            log.ask_seconds.append(time.perf_counter() - t0)
        except Exception as exc:  # a broken optimizer ends its run, not the benchmark
            log.stopped, log.error = "error", f"ask raised {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            break
        if request is None:
            log.stopped = ("the peer has nothing more to propose" if isinstance(driver, Peer)
                           else "ask returned None with no trial running (a bug for sequential use)")
            break
        try:
            config = problem.space.validate(request.config)
            fidelity = problem.effective_fidelity(request.fidelity)
            start = 0.0
            if request.continue_from is not None:
                parent = _parent(history, request.continue_from, config, fidelity)
                start = float(parent.end_step or 0.0)
        except (MetamlError, ValueError) as exc:
            log.stopped, log.error = "error", f"bad proposal {len(history)}: {exc}"
            break
        paid = fidelity if scratch else fidelity - start
        cost = paid / f_max
        t0 = time.perf_counter()
        metrics = problem.evaluate(config, fidelity, seed)
        log.problem_seconds += time.perf_counter() - t0
        trained += paid
        record = TrialRecord(
            study_id=0, number=len(history), config=config, fidelity=request.fidelity,
            continue_from=request.continue_from, status=TrialStatus.COMPLETED, metrics=metrics,
            start_step=start, end_step=fidelity, cost_fte=cost, info=dict(request.info), id=len(history) + 1,
        )
        history.append(record)
        if not isinstance(driver, Peer):  # peers keep their own history; the curve is for metaml's view
            t0 = time.perf_counter()
            points = curve_points(problem, record, seed)
            log.problem_seconds += time.perf_counter() - t0
            view = view.apply(Changes(cursor=view.cursor, trials=(record,), observations=points))
        log.evaluations.append(Evaluation(
            record.number, fidelity, start, cost, trained / f_max, sign * metrics[problem.primary.name], fidelity >= f_max,
        ))
        try:
            if isinstance(driver, Peer):
                driver.tell(request, record)
            else:
                driver.tell(record)
        except Exception as exc:
            log.stopped, log.error = "error", f"tell raised {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            break
    return history


def curve_points(problem: Problem, record: TrialRecord, seed: int) -> tuple[Observation, ...]:
    """The learning-curve points the trial reported: every step after its start up to its end.

    The last point's metrics are the trial's own (the same evaluation), so a curve and the
    final result never disagree.
    """
    end, start = float(record.end_step or 0.0), float(record.start_step or 0.0)
    curve = problem.curve(record.config, end, seed)
    steps = np.asarray(curve.pop("fidelity"), dtype=float)
    points = [Observation(record.number, float(step), {k: float(v[i]) for k, v in curve.items()}, 0.0)
              for i, step in enumerate(steps) if step > start + 1e-9]
    if points and record.metrics is not None and math.isclose(points[-1].step, end):
        points[-1] = Observation(record.number, points[-1].step, dict(record.metrics), 0.0)
    return tuple(points)


def _parent(history: Sequence[TrialRecord], number: int, config: dict[str, Any], fidelity: float) -> TrialRecord:
    """The trial a proposal continues, checked: same config, and the run only grows."""
    if not 0 <= number < len(history) or history[number].number != number:
        raise ValueError(f"continue_from={number} names no finished trial (there are {len(history)})")
    parent = history[number]
    if parent.config != config:
        raise ValueError(f"continue_from={number} with another config than trial {number}'s")
    if fidelity < float(parent.end_step or 0.0):
        raise ValueError(f"continue_from={number} to fidelity {fidelity} below the {parent.end_step} already trained")
    return parent


def measure(log: RunLog, targets: Targets, budget_fte: float, max_fidelity: float,
            checkpoints: Iterable[float] = CHECKPOINTS) -> dict[str, Any]:
    """The measures of one run: incumbent trajectory over FTE, FTE to target, regret at checkpoints."""
    trajectory: list[list[float]] = []  # [cumulative FTE, best full-fidelity value] at each improvement
    best = math.inf
    fte_to_target: float | None = None
    for ev in log.evaluations:
        if not ev.full or ev.cumulative > budget_fte + 1e-9:
            continue
        if ev.value < best:
            best = ev.value
            trajectory.append([ev.cumulative, ev.value])
        if fte_to_target is None and ev.value <= targets.target:
            fte_to_target = ev.cumulative
    regret: dict[str, float | None] = {}
    for x in checkpoints:
        if x <= budget_fte + 1e-9:
            found = [v for f, v in trajectory if f <= x + 1e-9]
            regret[f"{x:g}"] = _finite(targets.regret(found[-1] if found else None))
    evs = log.evaluations
    asks = np.asarray(log.ask_seconds) * 1000.0
    return {
        "fte_spent": evs[-1].cumulative if evs else 0.0,
        "n_evaluations": len(evs),
        "n_full": sum(e.full for e in evs),
        "n_continuations": sum(e.start > 0 for e in evs),
        # Training that continuations reused: what a retrain-from-scratch run pays on top.
        "fte_reused": sum(e.start for e in evs) / max_fidelity,
        "trajectory": trajectory,
        "fte_to_target": fte_to_target,
        "regret": regret,
        "final_best": _finite(best),
        "final_regret": _finite(targets.regret(best if math.isfinite(best) else None)),
        "ask_ms": {
            "mean": float(asks.mean()) if len(asks) else None,
            "median": float(np.median(asks)) if len(asks) else None,
            "max": float(asks.max()) if len(asks) else None,
        },
        "n_asks": len(asks),
        # The optimizer's own cost: wall time minus the problem's, per evaluation and per run.
        "overhead_ms": 1000.0 * log.overhead_seconds / len(evs) if evs else None,
        "overhead_s": log.overhead_seconds,
        "wall_s": log.wall_seconds,
    }


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def versions() -> dict[str, Any]:
    """Versions of what produced a result, so that numbers can be traced and repeated."""
    import metaml

    out: dict[str, Any] = {"metaml": metaml.__version__, "numpy": np.__version__,
                           "python": platform.python_version(), "platform": platform.platform()}
    try:
        import onnxruntime

        out["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        out["onnxruntime"] = None
    try:
        root = Path(__file__).resolve().parents[1]
        out["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                    text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["git"] = None
    return out


#: Further measures of a run (e.g. hypervolumes): (problem, log, history, budget) -> fields of the result line.
Measures = Callable[[Problem, RunLog, list[TrialRecord], float], dict[str, Any]]


def run_one(problem: Problem, optimizer: str, seed: int, budget_fte: float, targets: Targets,
            extra: dict[str, Any] | None = None, time_box_s: float | None = None,
            measures: Measures | None = None, warm_start: Sequence[PriorStudy] = ()) -> dict[str, Any]:
    """One (problem, optimizer, seed) run as a JSON-ready result line (plus ``measures``' fields, if given)."""
    started = time.perf_counter()
    log, history, settings = simulate(problem, optimizer, seed, budget_fte, time_box_s=time_box_s,
                                      warm_start=warm_start)
    name = split_name(optimizer)[0]
    result = {
        "problem": problem.name,
        "family": problem.family,
        "problem_settings": problem.settings(),
        "optimizer": optimizer,
        "kind": "peer" if is_peer(name) else "metaml",
        "optimizer_settings": settings,
        "seed": seed,
        "budget_fte": budget_fte,
        "time_box_s": time_box_s,
        "objective": problem.primary.name,
        "targets": {"target": targets.target, "best": targets.best, "median": targets.median,
                    "quantile": targets.quantile, "n": targets.n},
        **measure(log, targets, budget_fte, problem.max_fidelity),
        "stopped": log.stopped,
        "error": log.error,
        "sim_seconds": time.perf_counter() - started,
    }
    if measures is not None:
        result.update(measures(problem, log, history, budget_fte))
    result.update(extra or {})
    if is_peer(name):
        result["versions"] = {**result.get("versions", {}), **peer_versions([name])}
    return result


def run_many(problems: Sequence[Problem], optimizers: Sequence[str], seeds: Sequence[int], budget_fte: float,
             targets: dict[str, Targets], continuation_baseline: bool = True,
             on_result: Callable[[dict[str, Any]], None] | None = None,
             extra: dict[str, Any] | None = None, time_box_s: float | None = None,
             measures: Measures | None = None) -> list[dict[str, Any]]:
    """Every (problem, optimizer, seed); a ``-scratch`` run follows each metaml optimizer that continued trials.

    Peers get no automatic scratch run: how a peer is charged is fixed by what the library can do.
    """
    results: list[dict[str, Any]] = []
    for problem in problems:
        queue = list(optimizers)
        i = 0
        while i < len(queue):
            name = queue[i]
            i += 1
            continued = False
            for seed in seeds:
                result = run_one(problem, name, seed, budget_fte, targets[problem.name], extra, time_box_s, measures)
                continued = continued or result["n_continuations"] > 0
                results.append(result)
                if on_result is not None:
                    on_result(result)
            scratch = name + SCRATCH
            base, is_scratch = split_name(name)
            if continuation_baseline and continued and not is_scratch and not is_peer(base) and scratch not in queue:
                queue.insert(i, scratch)
    return results


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that produced a result, as it could be typed again."""
    return shlex.join(["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)])
