"""``python -m benchmarks.oneshot``: one-shot architecture search and hypergradient learning rates, against bohb.

On a built-in pipeline's one-shot example and its bohb twin (``--pipeline tabular``:
``examples/oneshot_tabular.yaml``, breast cancer, MLP depth 1-4, width 16-256, three
activations, learning rate, batch size, weight decay, dropout, 12 epochs; ``--pipeline
vision``: ``examples/oneshot_vision.yaml``, 8x8 digits, CNN convolutions per stage, width,
kernel size, activation, and the outer choices), per seed (the seed sets the data split,
the initialization and the optimizer's draws):

1. ``bohb`` over the whole space for ``--bohb-fte`` (20) FTE: its best validation error is
   the target's reference;
2. ``oneshot`` (robust; ``--then``, ``--supernet-fidelity`` change the example's settings) for
   ``--oneshot-fte`` (3) FTE: the FTE spent when the first trial of the architecture it found
   reaches bohb's best + 1 percentage point (not reached: ∞);
3. the supernet's derived architecture with the robustness measures (``robust: true``,
   ``selection: perturbation``) and without them (``robust: false``, ``selection: argmax``:
   first-order DARTS as published), against a random
   architecture (uniform depth, width, activation; other choices at their defaults), all
   trained once at full fidelity: a failure is a derived architecture worse than the random one
   (a supernet that reports a collapse it could not remedy makes the optimizer fall back to
   its ``fallback``, bohb; the architecture it derived is trained all the same, and the fall-back counted);
4. the default configuration at three learning rates with ``hypergradient`` on and off:
   final validation error, mean and spread over the seeds, at equal cost (one FTE each).

    python -m benchmarks.oneshot --pipeline tabular --seeds 5
    python -m benchmarks.oneshot --pipeline vision --seeds 5 --json /tmp/oneshot-vision.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from metaml import Study
from metaml.budget import Budget
from metaml.core.records import TrialStatus
from metaml.optimizers import make_optimizer
from metaml.optimizers.oneshot import ARCHITECTURES, ROLE, OneShot
from metaml.optimizers.registry import parse_spec
from metaml.results import is_final
from metaml.studyfile import StudyFile, load_study_file

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LRS = (1e-4, 1e-3, 1e-2)
#: The backbone each pipeline's supernet relaxes; its parameters are the optimizer's ``ARCHITECTURES``.
BACKBONE = {"tabular": "mlp", "vision": "cnn"}
ARCHITECTURE = {pipeline: ARCHITECTURES[backbone] for pipeline, backbone in BACKBONE.items()}


def spec_for(example: str, seed: int, folder: Path, dataset: str | None = None, **changes: Any) -> StudyFile:
    """The example study file with the seed set (the pipeline's too), ``dataset`` in place of the example's
    (the tabular examples), and ``changes`` to its top-level keys."""
    data = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text())
    data["seed"] = seed
    data["space"]["seed"] = {"type": "constant", "value": seed}
    if dataset is not None:
        if "dataset" not in data["space"]:
            raise SystemExit(f"--dataset: {example} names no dataset to replace (the tabular examples do)")
        data["space"]["dataset"] = {"type": "constant", "value": dataset}
    data.pop("budget", None)
    data.update(changes)
    path = folder / f"{example}-{seed}.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_study_file(path)


def run(spec: StudyFile, store: Path, budget: Budget, optimizer: Any = None) -> Study:
    """The study of ``spec`` in a fresh store, run until ``budget`` is spent, one worker, one thread."""
    study = Study.create(spec.name, spec.space, spec.objectives, store=store, seed=spec.seed,
                         optimizer=optimizer or spec.optimizer)  # fmt: skip
    study.optimize(spec.load_function(), budget, settings=spec.execution)
    return study


def trajectory(study: Study) -> list[tuple[float, float]]:
    """(FTE spent, val_error of a final trial) in the order the trials ended; the supernet is never one."""
    out, spent = [], 0.0
    full = study.full_fidelity
    for t in sorted(study.trials(), key=lambda t: t.ended_at or math.inf):
        spent += t.cost_fte
        if is_final(t, study.objectives, full):
            out.append((spent, float((t.metrics or {})["val_error"])))
    return out


def fte_to(target: float, points: list[tuple[float, float]]) -> float:
    return next((fte for fte, err in points if err <= target + 1e-12), math.inf)


def single(spec: StudyFile, store: Path, config: Mapping[str, Any]) -> float:
    """The validation error of ``config`` trained once at full fidelity."""
    study = Study.create(spec.name, spec.space, spec.objectives, store=store, seed=spec.seed, optimizer="random")
    study.enqueue(config)
    study.optimize(spec.load_function(), Budget(trials=1), settings=spec.execution)
    (trial,) = study.trials()
    return float((trial.metrics or {}).get("val_error", math.nan))


def optimizer_settings(spec: StudyFile) -> dict[str, Any]:
    """The study file's optimizer as one mapping with its name (``{"name": "oneshot", ...}``)."""
    name, settings = parse_spec(spec.optimizer)
    return {"name": name, **settings}


def then_spec(text: str) -> str | dict[str, Any]:
    """``--then``: an optimizer's name, or a JSON mapping with its name and settings."""
    if not text.lstrip().startswith("{"):
        return text
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not a JSON mapping: {exc}") from None
    if not isinstance(spec, dict) or "name" not in spec:
        raise argparse.ArgumentTypeError('a mapping needs a "name", e.g. {"name": "one_epoch", "per_round": 5}')
    return spec


def derived_error(spec: StudyFile, store: Path, robust: bool, names: tuple[str, ...],
                  study: Study | None = None) -> dict[str, Any]:  # fmt: skip
    """The architecture the supernet derived, trained once at full fidelity: its error, it, and the supernet's report.

    ``robust``: the spec's settings with the robustness measures on, or off (``robust: false``,
    ``selection: argmax``). ``study``: a one-shot study already run with these settings and seed, whose supernet and
    derived trial are read instead of training them again (the same seed trains the same ones).
    A supernet that reports a collapse it could not remedy (always so when ``robust`` is off
    and a failure sign appeared) makes the optimizer fall back to its ``fallback`` with no derived
    trial; the architecture it reported is then trained here as the derived trial would have
    been, so that the result without the robustness measures is measured, not the fallback's.
    """
    settings = {**optimizer_settings(spec), "robust": robust}
    if not robust:
        settings["selection"] = "argmax"  # DARTS' own rule: perturbation-based selection is a robustness measure
    if study is None:
        study = run(spec, store, Budget(trials=1), optimizer=settings)
    trials = study.trials()
    supernet = next(t for t in trials if t.is_supernet)
    derived = next((t for t in trials if t.info.get(ROLE) == "derived" and t.status is TrialStatus.COMPLETED), None)
    metrics = supernet.metrics or {}
    found: dict[str, Any] = {
        "seconds": (supernet.ended_at or 0) - (supernet.started_at or 0),
        "collapse_detected": bool(metrics.get("oneshot.collapse_detected")),
        # the optimizer handed the search to its fallback: a collapse not remedied, or a supernet that failed
        "fell_back": OneShot.failure(supernet, None) is not None,
    }
    if derived is not None:
        config, error = derived.config, float((derived.metrics or {}).get("val_error", math.nan))
    elif supernet.status is TrialStatus.COMPLETED and all(f"oneshot.{n}" in metrics for n in names):
        optimizer = make_optimizer(settings, spec.space, spec.objectives, spec.seed)
        assert isinstance(optimizer, OneShot)
        config = optimizer.pinned(supernet.config, optimizer.architecture(supernet))
        error = single(spec, store.with_name(f"{store.stem}-derived.db"), config)
    else:  # the supernet failed: no architecture to train, the row says so
        return {**found, "error": math.nan, "arch": {}, "supernet_error": supernet.error or supernet.status.value}
    return {**found, "error": error, "arch": {k: config[k] for k in names}}


def random_architecture(spec: StudyFile, seed: int, pipeline: str) -> dict[str, Any]:
    """A uniformly drawn architecture; every other choice at its default."""
    rng = np.random.default_rng([seed, 2021])
    space = spec.space
    config = space.default()
    config["backbone"] = BACKBONE[pipeline]
    for name in ARCHITECTURE[pipeline]:
        config[name] = space.parameters[name].sample(rng, False)  # type: ignore[union-attr]
    out: dict[str, Any] = {}
    for name in space.order:  # the other branch's values go, the chosen branch's defaults come in
        if space.is_active(name, out):
            out[name] = config[name] if name in config else space.parameters[name].default()  # type: ignore[union-attr]
    return space.validate(out)


def one_seed(seed: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    pipeline = args.pipeline
    names = ARCHITECTURE[pipeline]
    row: dict[str, Any] = {"seed": seed, "pipeline": pipeline}
    bohb = run(spec_for(f"oneshot_{pipeline}_bohb", seed, folder, args.dataset), folder / f"bohb-{seed}.db",
               Budget(fte=args.bohb_fte))  # fmt: skip
    bohb_points = trajectory(bohb)
    row["bohb_best"] = min((e for _, e in bohb_points), default=math.nan)
    target = row["bohb_best"] + 0.01
    row["bohb_fte_to_target"] = fte_to(target, bohb_points)
    oneshot_spec = spec_for(f"oneshot_{pipeline}", seed, folder, args.dataset)
    changed = optimizer_settings(oneshot_spec)
    if args.then is not None:
        changed["then"] = args.then
    if args.supernet_fidelity is not None:
        changed["supernet_fidelity"] = args.supernet_fidelity
    if changed != optimizer_settings(oneshot_spec):
        oneshot_spec = spec_for(f"oneshot_{pipeline}", seed, folder, args.dataset, optimizer=changed)
    oneshot = run(oneshot_spec, folder / f"oneshot-{seed}.db", Budget(fte=args.oneshot_fte))
    points = trajectory(oneshot)
    row["oneshot_fte_to_target"] = fte_to(target, points)
    row["oneshot_best"] = min((e for _, e in points), default=math.nan)
    reuse = oneshot if changed.get("robust", True) else None  # its supernet and derived trial are the robust ones
    for kind, robust in (("robust", True), ("plain", False)):
        found = derived_error(oneshot_spec, folder / f"{kind}-{seed}.db", robust, names, reuse if robust else None)
        row[f"derived_{kind}"], row[f"arch_{kind}"] = found["error"], found["arch"]
        row[f"collapse_detected_{kind}"], row[f"fell_back_{kind}"] = found["collapse_detected"], found["fell_back"]
        if robust:
            row["supernet_seconds"] = found["seconds"]
    arch = random_architecture(oneshot_spec, seed, pipeline)
    row["random_arch"] = {k: arch[k] for k in names}
    row["random_error"] = single(oneshot_spec, folder / f"random-{seed}.db", arch)
    default = oneshot_spec.space.default()
    if not args.hypergradient:
        return row
    for lr in LRS:
        for hyper in ("disabled", "enabled"):
            hg_spec = spec_for(f"oneshot_{pipeline}", seed, folder, args.dataset, name=f"hg-{lr}-{hyper}")
            space = dict(yaml.safe_load(hg_spec.text)["space"])
            space["hypergradient"] = {"type": "constant", "value": hyper}
            space.pop("lr", None)
            hg_spec = spec_for(f"oneshot_{pipeline}", seed, folder, args.dataset, name=f"hg-{lr}-{hyper}",
                               space={**space, "lr": {"type": "constant", "value": lr}})  # fmt: skip
            config = {k: v for k, v in default.items() if k in hg_spec.space.parameters and k != "lr"}
            row[f"hg_{lr}_{hyper}"] = single(hg_spec, folder / f"hg-{lr}-{hyper}-{seed}.db", config)
    return row


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float:
        return float(statistics.median(r[key] for r in rows))

    out: dict[str, Any] = {
        "seeds": len(rows),
        "pipeline": rows[0].get("pipeline") if rows else None,
        "bohb_best_median": median("bohb_best"),
        "oneshot_fte_to_target_median": median("oneshot_fte_to_target"),
        "oneshot_reached": sum(math.isfinite(r["oneshot_fte_to_target"]) for r in rows),
        "bohb_fte_to_target_median": median("bohb_fte_to_target"),
        # a failure: worse than the random architecture, or no architecture at all (NaN: the supernet failed)
        "failures_robust": sum(not r["derived_robust"] <= r["random_error"] for r in rows),
        "failures_plain": sum(not r["derived_plain"] <= r["random_error"] for r in rows),
        # a collapse seen and not remedied: the optimizer falls back (always so without robustness)
        "fell_back_robust": sum(bool(r.get("fell_back_robust")) for r in rows),
        "fell_back_plain": sum(bool(r.get("fell_back_plain")) for r in rows),
        "supernet_seconds_median": median("supernet_seconds"),
    }
    for lr in LRS:
        for hyper in ("disabled", "enabled"):
            values = [r[f"hg_{lr}_{hyper}"] for r in rows if f"hg_{lr}_{hyper}" in r]
            if values:
                out[f"hg_{lr}_{hyper}"] = (statistics.mean(values), statistics.pstdev(values))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.oneshot", description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline", choices=sorted(ARCHITECTURE), default="tabular")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--no-hypergradient", dest="hypergradient", action="store_false",
                        help="skip the hypergradient comparison")
    parser.add_argument("--bohb-fte", type=float, default=20.0)
    parser.add_argument("--oneshot-fte", type=float, default=3.0)
    parser.add_argument("--then", type=then_spec, default=None, help="the black-box optimizer after the one-shot "
                        "search, a name or a JSON mapping with its settings (default: the example's, one_epoch)")  # fmt: skip
    parser.add_argument("--supernet-fidelity", type=float, default=None,
                        help="the supernet's share of the full fidelity (default: the optimizer's, 0.25)")
    parser.add_argument("--dataset", default=None, help="the table in place of the tabular example's breast cancer "
                        "(a name of metaml.data.available_datasets(), e.g. digits: 360 validation rows, not 113)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            row = one_seed(seed, args, Path(tmp))
            rows.append(row)
            print(json.dumps(row, default=str), flush=True)
    summary = summarize(rows)
    summary["seconds"] = time.perf_counter() - started
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
