"""PBT against a fixed schedule and BOHB on a synthetic curve whose best learning rate falls during training.

``python -m benchmarks.pbt [--seeds 5] [--fte 8] [--out DIR]`` runs real studies (store,
checkpoints, FTE charging) on a cheap training function: a state ``w`` in [0, 1) grows each
epoch by ``lr * (1 - w) - 3 * lr**2 * w`` plus seeded noise, so the learning rate that helps
most is high early and low late (a schedule beats any constant). The loss after the full 27
epochs is ``1 - w``. Compared at the same FTE budget: ``pbt`` (lr schedulable), ``bohb`` and
``random`` (a constant lr per run: a fixed schedule), and ``pb2``. Prints a table of the best
final loss per method (mean and standard deviation over seeds) and writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.stats import mean_sd
from metaml import Fidelity, Float, Space, Study
from metaml.core.trial_context import TrialContext

FULL = 27
METHODS: dict[str, Any] = {
    "pbt": {"name": "pbt", "population": 8, "interval": 3},
    "pb2": {"name": "pb2", "population": 8, "interval": 3},
    "bohb": {"name": "bohb", "eta": 3},
    "random (fixed lr)": "random",
}


class State(torch.nn.Module):
    w: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("w", torch.zeros((), dtype=torch.float64))


def train(config: dict[str, Any], trial: TrialContext) -> dict[str, float]:
    """The synthetic run: every epoch depends only on (w, lr, epoch), so a fidelity is a prefix of the run."""
    state = State()
    start = trial.restore(state=state)
    w = float(state.w)
    for epoch in range(start + 1, int(trial.fidelity or FULL) + 1):
        lr = float(trial.config_at(epoch)["lr"])
        noise = np.random.default_rng([7, epoch]).normal(0.0, 0.002)
        w = min(0.999, max(0.0, w + lr * (1 - w) - 3 * lr**2 * w + noise))
        trial.report(epoch, loss=1 - w)
        state.w.fill_(w)
        trial.checkpoint(epoch, state=state)
    return {"loss": 1 - w}


def run(method: str, seed: int, fte: float, folder: Path) -> dict[str, Any]:
    space = Space({"lr": Float(1e-3, 0.5, log=True, schedulable=True), "epochs": Fidelity(1, FULL)})
    study = Study.create(f"{method.split()[0]}-{seed}", space, "loss", store=folder / f"{method.split()[0]}-{seed}.db",
                         optimizer=METHODS[method], seed=seed, artifacts=folder / "artifacts")  # fmt: skip
    started = time.time()
    study.optimize(train, budget={"fte": fte})
    best = study.best()
    return {"method": method, "seed": seed, "best_loss": None if best is None else best.metrics["loss"],  # type: ignore[index]
            "fte": study.cost_fte(), "trials": len(study.trials()), "seconds": time.time() - started}  # fmt: skip


# ---------------------------------------------------------------- CartPole
RL_SETTINGS: dict[str, Any] = {"env": "CartPole-v1", "steps_per_unit": 1024, "n_envs": 4, "eval_episodes": 5, "threads": 1}


class _Memory:
    """An in-memory trial context for the baseline runs (no store: nothing is searched there)."""

    def __init__(self, config: dict[str, Any], fidelity: int) -> None:
        from metaml.core.trial_context import RunSettings

        self.number, self.config, self.fidelity, self.max_fidelity = 0, config, fidelity, fidelity
        self.directory, self.objective_names, self.run_settings = None, (), RunSettings()

    def config_at(self, step: float) -> dict[str, Any]:
        return self.config

    def restore(self, **objects: Any) -> int:
        return 0

    def report(self, step: float, **metrics: Any) -> None:
        pass

    def checkpoint(self, step: float, **objects: Any) -> None:
        pass

    def should_stop(self) -> bool:
        return False


def cartpole(seed: int, population: int, units: int, folder: Path) -> dict[str, Any]:
    """PBT's best mean return against the default PPO run ``population`` times (other seeds): the same env steps."""
    from metaml.pipelines import rl

    whole = rl.rl_space(seed=seed, steps_per_unit=1024, n_envs=4, eval_episodes=5, threads=1, units=units)
    space = Space({
        **{k: v for k, v in whole.items() if k in {*RL_SETTINGS, "seed"}},
        "lr": Float(1e-4, 3e-3, log=True, schedulable=True),
        "entropy_coef": Float(0.0, 0.02, schedulable=True),
        "units": Fidelity(1, units),
    })  # fmt: skip
    study = Study.create(f"cartpole-{seed}", space, [{"name": "mean_return", "goal": "max"}],
                         store=folder / f"cartpole-{seed}.db", artifacts=folder / "artifacts", seed=seed,
                         optimizer={"name": "pbt", "population": population, "interval": max(1, units // 5)})  # fmt: skip
    started = time.time()
    study.optimize(rl.train, budget={"fte": population})
    best = study.best()
    pbt_seconds = time.time() - started
    baseline = [rl.train({**RL_SETTINGS, "seed": seed * 100 + k}, _Memory({}, units))["mean_return"]  # type: ignore[arg-type]
                for k in range(population)]  # fmt: skip
    steps = population * units * int(RL_SETTINGS["steps_per_unit"])
    return {"seed": seed, "pbt_best_return": None if best is None else best.metrics["mean_return"],  # type: ignore[index]
            "default_best_return": max(baseline), "default_returns": baseline, "env_steps": steps,
            "pbt_fte": study.cost_fte(), "pbt_seconds": pbt_seconds}  # fmt: skip


# ---------------------------------------------------------------- vision
VISION_FULL = 18
VISION_METHODS: dict[str, Any] = {
    "pbt": {"name": "pbt", "population": 8, "interval": 2},
    "bohb": {"name": "bohb", "eta": 3},
    "random (fixed values)": "random",
}


def vision_space(seed: int, dataset: str = "digits") -> Space:
    """A fixed 2-stage CNN; the learning rate and the weight decay searched (and schedulable)."""
    from metaml import Categorical, Constant
    from metaml.pipelines import vision

    whole = vision.vision_space(dataset, metrics=[], seed=seed, threads=1, epochs=VISION_FULL)
    settings = {k: v for k, v in whole.items() if isinstance(v, Constant)}
    return Space({
        **settings,
        "backbone": Categorical({"cnn": {"stages": Constant(2), "width": Constant(16), "convs": Constant(1)}}),
        "lr": Float(3e-4, 0.1, log=True, schedulable=True),
        "weight_decay": Categorical({"disabled": {}, "enabled": {
            "strength": Float(1e-5, 0.1, log=True, schedulable=True)}}),
        "epochs": Fidelity(1, VISION_FULL),
    })  # fmt: skip


def vision_run(method: str, seed: int, fte: float, folder: Path, dataset: str = "digits") -> dict[str, Any]:
    """One study of ``method`` at ``fte``: its best full-length model, by validation, scored once on test."""
    from metaml.final_evaluation import score_trials
    from metaml.pipelines import vision

    name = f"vision-{dataset}-{method.split()[0]}-{seed}"
    study = Study.create(name, vision_space(seed, dataset), "val_error", store=folder / f"{name}.db",
                         optimizer=VISION_METHODS[method], seed=seed, artifacts=folder / "artifacts")  # fmt: skip
    started = time.time()
    study.optimize(vision.train, budget={"fte": fte})
    seconds = time.time() - started
    best = study.best()
    test = score_trials(study, [best], "metaml.pipelines.vision:train").get(best.number, {}) if best else {}
    return {"method": method, "seed": seed, "dataset": dataset,
            "val_error": None if best is None else (best.metrics or {})["val_error"], "test_error": test.get("test_error"), "config": None if best is None else dict(best.config),
            "fte": study.cost_fte(), "trials": len(study.trials()), "seconds": seconds}  # fmt: skip


def vision_table(rows: list[dict[str, Any]], methods: list[str]) -> str:
    """Best validation and test error per method, mean ± sd over seeds."""
    lines = ["| method | best val error (mean ± sd) | its test error (mean ± sd) | FTE spent | trials | seconds |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        cells = [mean_sd((r[key] for r in mine if r[key] is not None), "none") for key in ("val_error", "test_error")]
        lines.append(f"| {method} | {cells[0]} | {cells[1]} | {statistics.mean(r['fte'] for r in mine):.2f} | "
                     f"{statistics.mean(r['trials'] for r in mine):.0f} | "
                     f"{statistics.mean(r['seconds'] for r in mine):.0f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--fte", type=float, default=8.0)
    parser.add_argument("--methods", help=f"default: {','.join(METHODS)} ({','.join(VISION_METHODS)} with --vision)")
    parser.add_argument("--out", default="benchmarks/results/pbt")
    parser.add_argument("--cartpole", action="store_true", help="PPO on CartPole: PBT against the default settings")
    parser.add_argument("--population", type=int, default=4)
    parser.add_argument("--units", type=int, default=20)
    parser.add_argument("--vision", action="store_true", help="the vision pipeline: PBT against bohb and random")
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"], help="with --vision")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.vision:
        methods = args.methods.split(",") if args.methods else list(VISION_METHODS)
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                for method in methods:
                    rows.append(vision_run(method, seed, args.fte, Path(tmp), args.dataset))
                    print(json.dumps(rows[-1]), flush=True)
                    (out / f"vision-{args.dataset}.json").write_text(json.dumps(rows, indent=1))
        print(vision_table(rows, methods))
        return
    if args.cartpole:
        with tempfile.TemporaryDirectory() as tmp:
            results = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                results.append(cartpole(seed, args.population, args.units, Path(tmp)))
                print(json.dumps(results[-1]), flush=True)
        (out / "cartpole.json").write_text(json.dumps(results, indent=1))
        return
    methods = args.methods.split(",") if args.methods else list(METHODS)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            for seed in range(args.seeds):
                rows.append(run(method, seed, args.fte, Path(tmp)))
                print(json.dumps(rows[-1]), flush=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    print(f"\n| method | best final loss (mean ± sd over {args.seeds} seeds) | FTE spent | trials |")
    print("| --- | --- | --- | --- |")
    for method in methods:
        losses = [r["best_loss"] for r in rows if r["method"] == method and r["best_loss"] is not None]
        mine = [r for r in rows if r["method"] == method]
        found = mean_sd(losses, "no full-fidelity result")
        missed = f" ({len(mine) - len(losses)} seed(s) without one)" if losses and len(losses) < len(mine) else ""
        print(f"| {method} | {found}{missed} | {statistics.mean(r['fte'] for r in mine):.2f} "
              f"| {statistics.mean(r['trials'] for r in mine):.0f} |")


if __name__ == "__main__":
    main()
