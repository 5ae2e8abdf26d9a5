"""A real pipeline study: metaml's tabular pipeline trained on scikit-learn's digits, epochs as the fidelity.

Every tool optimizes this same training function. A configuration of the reduced space
below (backbone with its nested knobs, optimizer with its own knob, learning rate, dropout
and weight decay switches with their strengths, batch size) is completed with the
pipeline's defaults (``metaml.pipelines.tabular.resolve``) and trained for real on one CPU
thread with a fixed training seed, so the problem is a deterministic function of
(config, epochs).

The pipeline keeps the prefix invariant (its schedule is defined on the full length and
each epoch's randomness is seeded by the epoch), so the problem keeps, per configuration,
the model's state after the last epoch trained and the learning curve so far: a request at
or below that length reads the curve, a longer one continues the kept state. This saves
wall time only: the runner charges epochs (a fresh request pays its whole fidelity even
when the curve is cached), so the cost accounting is that of a real training run.
"""

from __future__ import annotations

import copy
import json
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.problems.base import Problem, ProblemUnavailable, as_fidelity_array
from metaml.core.trial_context import RunSettings
from metaml.objectives import Objective
from metaml.space import Categorical, Fidelity, Float, Int, Space

#: Datasets bundled with scikit-learn that the problem accepts (offline everywhere).
DATASETS = ("digits", "breast_cancer", "wine")
#: Epochs of one full run; rungs 2, 6, 18 for eta 3.
MIN_EPOCHS, MAX_EPOCHS = 2, 18
#: The training seed: fixed, so the problem is a function (every optimizer seed sees the same one).
TRAIN_SEED = 0
#: How many trained states (model + optimizer) are kept for continuation; curves are always kept.
KEEP_STATES = 256


def tabular_search_space() -> dict[str, Any]:
    """The reduced but real subspace: categorical and conditional parameters, log scales, the defaults inside.

    Everything else (schedule, activation, mixing, ...) stays at the pipeline's default.
    """
    return {
        "backbone": Categorical({
            "mlp": {"depth": Int(1, 4), "width": Int(16, 512, log=True)},
            "resnet": {"blocks": Int(1, 3), "width": Int(16, 256, log=True)},
        }),
        "optimizer": Categorical({"sgd": {"momentum": Float(0.0, 0.99)}, "adam": {}, "adamw": {}}),
        "lr": Float(1e-4, 0.1, log=True),
        "dropout": Categorical({"disabled": {}, "enabled": {"rate": Float(0.0, 0.8)}}),
        "weight_decay": Categorical({"disabled": {}, "enabled": {"strength": Float(1e-6, 0.1, log=True)}}),
        "batch_size": Int(16, 512, log=True),
        "epochs": Fidelity(MIN_EPOCHS, MAX_EPOCHS),
    }


@dataclass
class _Run:
    """What one (config, seed) has trained so far: the curve, and the state to continue from (if kept)."""

    curve: list[float] = field(default_factory=list)
    state: dict[str, Any] | None = None
    diverged: int | None = None  # the epoch whose loss went NaN: it and every later epoch score 1.0
    number: int = 0  # the order in which the problem first saw the config (its trial context's number)

    def value(self, epochs: int) -> float | None:
        """The error after ``epochs``, None when not trained that far yet."""
        if self.diverged is not None and epochs >= self.diverged:
            return 1.0
        return self.curve[epochs - 1] if epochs <= len(self.curve) else None


class MemoryTrial:
    """A trial context (``metaml.core.trial_context.TrialContext``) whose curve and checkpoint live in memory.

    Only the state checkpointed at the request's own fidelity is kept: it is the one a
    longer request continues from.
    """

    #: No study folder: the pipeline writes no provenance file.
    directory: Path | None = None
    #: The problem's objective is val_error, which the pipeline always computes.
    objective_names: tuple[str, ...] = ()

    def __init__(
        self, fidelity: int, max_fidelity: int, run: _Run, *, number: int = 0, config: Mapping[str, Any] | None = None
    ) -> None:
        self.number = number
        self.config: Mapping[str, Any] = dict(config or {})
        self.fidelity = fidelity
        self.max_fidelity = max_fidelity
        self.run = run
        #: The problem's config carries its own device and threads (one CPU thread).
        self.run_settings = RunSettings()
        #: The benchmark runs ordinary trials only: nothing beyond the configuration.
        self.info: Mapping[str, Any] = {}

    def config_at(self, step: float) -> Mapping[str, Any]:
        """The request's configuration: a benchmark replays no schedule."""
        return self.config

    def restore(self, **objects: Any) -> int:
        if self.run.state is None:
            self.run.curve.clear()  # nothing to continue: train from scratch
            return 0
        for name, obj in objects.items():
            obj.load_state_dict(copy.deepcopy(self.run.state[name]))
        return len(self.run.curve)

    def report(self, step: float, **metrics: Any) -> None:
        assert int(step) == len(self.run.curve) + 1, "the curve grows one epoch at a time"
        self.run.curve.append(float(metrics["val_error"]))

    def checkpoint(self, step: float, **objects: Any) -> None:
        if int(step) == self.fidelity:  # only the last epoch of this request is continued from
            self.run.state = {name: copy.deepcopy(obj.state_dict()) for name, obj in objects.items()}

    def should_stop(self) -> bool:
        return False


class TabularPipeline(Problem):
    """``metaml.pipelines.tabular`` on a bundled dataset: minimize validation error over epochs."""

    family = "tabular"
    #: It really trains: targets come from the default config and a few hundred random runs (benchmarks.targets).
    trains = True

    def __init__(self, dataset: str = "digits") -> None:
        if dataset not in DATASETS:
            raise ProblemUnavailable(f"tabular: choose a bundled dataset ({', '.join(DATASETS)}), not {dataset!r}")
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ProblemUnavailable("the tabular problem trains with torch: pip install metaml") from None
        self.dataset = dataset
        self.name = f"tabular-{dataset}"
        self.space = Space(tabular_search_space())
        self.objectives = (Objective("val_error", "min"),)
        self._runs: dict[str, _Run] = {}
        self._states: OrderedDict[str, None] = OrderedDict()  # keys whose state is kept, oldest first
        #: Epochs really trained by this process (wall time spent), against epochs asked for.
        self.epochs_trained = 0
        self.epochs_requested = 0

    def settings(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "train_seed": TRAIN_SEED, "threads": 1, "device": "cpu",
                "pipeline": "metaml.pipelines.tabular", "fixed": "every other parameter at the pipeline's default"}

    def pipeline_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The config as the pipeline takes it: the searched values plus the data and run settings."""
        return {**dict(config), "dataset": self.dataset, "seed": TRAIN_SEED, "device": "cpu", "threads": 1,
                "metrics": []}

    def default_config(self) -> dict[str, Any]:
        """The pipeline's default configuration, restricted to this space (the practitioner's baseline)."""
        from metaml.pipelines.tabular import DEFAULT_CONFIG

        out: dict[str, Any] = {}
        for name in self.space.order:
            if self.space.is_active(name, out):
                out[name] = DEFAULT_CONFIG[name]
        return self.space.validate(out)

    def evaluate_batch(
        self, configs: Sequence[Mapping[str, Any]], fidelity: float | np.ndarray, seed: int = 0
    ) -> dict[str, np.ndarray]:
        """Validation error after each config's number of epochs; ``seed`` is ignored (one fixed training seed)."""
        epochs = as_fidelity_array(fidelity, len(configs))
        errors = np.array([self._error(c, int(round(e))) for c, e in zip(configs, epochs, strict=True)])
        return {"val_error": errors}

    def curve(self, config: Mapping[str, Any], up_to: float, seed: int = 0) -> dict[str, np.ndarray]:
        """The learning curve up to ``up_to`` from one training run (not one run per step)."""
        steps = self.steps(up_to)
        self._error(config, int(steps[-1]))
        run = self._runs[_key(config)]
        values = np.array([run.value(int(s)) for s in steps], dtype=float)
        return {"fidelity": steps, "val_error": values}

    # ------------------------------------------------------------------ training
    def _error(self, config: Mapping[str, Any], epochs: int) -> float:
        epochs = int(self.effective_fidelity(epochs))
        self.epochs_requested += epochs
        key = _key(config)
        run = self._runs.setdefault(key, _Run(number=len(self._runs)))
        value = run.value(epochs)
        if value is None:
            self._train(config, run, epochs)
            value = run.value(epochs)
        assert value is not None
        return value

    def _train(self, config: Mapping[str, Any], run: _Run, epochs: int) -> None:
        """Train ``config`` up to ``epochs`` through the pipeline's own loop, continuing the kept state."""
        from metaml.pipelines.base import DivergedError
        from metaml.pipelines.tabular import prepare, resolve, train_model
        from metaml.pipelines.training import pick_device, torch_threads

        # What metaml.pipelines.tabular.train does up to scoring: the curve's val_error is the objective.
        cfg = resolve(self.pipeline_config(config))
        before = len(run.curve) if run.state is not None else 0
        trial = MemoryTrial(epochs, int(self.max_fidelity), run, number=run.number, config=config)
        try:
            with torch_threads(cfg["threads"]):
                train_model(cfg, trial, prepare(cfg), pick_device(cfg["device"]))
        except DivergedError:  # scored as all wrong from the epoch that diverged on
            run.diverged, run.state = len(run.curve) + 1, None
        self.epochs_trained += min(epochs, len(run.curve) + (run.diverged is not None)) - before
        self._keep(_key(config), run)

    def _keep(self, key: str, run: _Run) -> None:
        """Hold at most ``KEEP_STATES`` states (a few MB each); an evicted run retrains if it grows again."""
        if run.state is None:
            return
        self._states[key] = None
        self._states.move_to_end(key)
        while len(self._states) > KEEP_STATES:
            old, _ = self._states.popitem(last=False)
            self._runs[old].state = None


def _key(config: Mapping[str, Any]) -> str:
    return json.dumps({k: (float(v) if isinstance(v, float) and math.isfinite(v) else v)
                       for k, v in sorted(config.items())}, sort_keys=True)
