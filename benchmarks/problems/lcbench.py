"""LCBench through the YAHPO Gym v1 ONNX surrogate, called with onnxruntime directly.

The surrogate maps (task, epoch, 7 hyperparameters) to six metrics of an MLP's learning curve
on one OpenML task. It is deterministic, so the curve at epoch ``e`` is the same whether the
run was trained to ``e`` or stopped there on its way further: a continued run is a prefix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.problems.base import Problem, ProblemUnavailable, as_fidelity_array, data_dir
from metaml.objectives import Objective
from metaml.space import Fidelity, Float, Int, Space

#: The tasks to tune and report on (the others are kept for independent evaluation).
DEV_TASKS: tuple[int, ...] = (3945, 34539, 146212, 167104, 168330, 189862, 189909, 126029)

#: The surrogate's continuous inputs, in the order the model expects them (YAHPO's cont_names).
INPUTS: tuple[str, ...] = (
    "epoch", "batch_size", "learning_rate", "momentum", "weight_decay", "num_layers", "max_units", "max_dropout",
)
#: The surrogate's outputs, in order. val_accuracy is in percent; the balanced accuracies in [0, 1].
OUTPUTS: tuple[str, ...] = (
    "time", "val_accuracy", "val_cross_entropy", "val_balanced_accuracy", "test_cross_entropy", "test_balanced_accuracy",
)


def lcbench_dir() -> Path:
    return data_dir() / "yahpo" / "lcbench"


def _require_files() -> Path:
    folder = lcbench_dir()
    missing = [n for n in ("model.onnx", "encoding.json", "config_space.json") if not (folder / n).is_file()]
    if missing:
        raise ProblemUnavailable(
            f"LCBench surrogate not found: {folder} lacks {', '.join(missing)}; "
            "set METAML_DATA_DIR to the folder that holds yahpo/lcbench/"
        )
    return folder


@lru_cache(maxsize=2)
def _session(model: str) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ProblemUnavailable("LCBench needs onnxruntime: pip install 'metaml[bench]'") from None
    options = ort.SessionOptions()
    # One thread: single-row calls dominate the runner, and they are fastest (and reproducible) so.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=2)
def _metadata(folder: str) -> tuple[dict[str, int], dict[str, Any]]:
    encoding = json.loads((Path(folder) / "encoding.json").read_text())["OpenML_task_id"]
    space = json.loads((Path(folder) / "config_space.json").read_text())
    return {str(k): int(v) for k, v in encoding.items()}, space


def available_tasks() -> list[int]:
    """Every OpenML task id the surrogate was trained on (its config space lists them)."""
    _, cs = _metadata(str(_require_files()))
    task_hp = next(h for h in cs["hyperparameters"] if h["name"] == "OpenML_task_id")
    return [int(c) for c in task_hp["choices"]]


def _space_from_config_space(cs: Mapping[str, Any]) -> Space:
    """The metaml space that the surrogate's config_space.json describes (epoch as the fidelity)."""
    params: dict[str, Any] = {}
    by_name = {h["name"]: h for h in cs["hyperparameters"]}
    for name in INPUTS[1:]:
        h = by_name[name]
        kind = Int if h["type"] == "uniform_int" else Float
        # The JSON keeps float noise (1e-4 is written 0.00010000000000000009): round it away,
        # so that the documented bounds themselves are inside the space.
        lower, upper = (float(f"{h[k]:.12g}") for k in ("lower", "upper"))
        params[name] = kind(lower, upper, log=bool(h.get("log", False)))
    epoch = by_name["epoch"]
    params["epoch"] = Fidelity(int(epoch["lower"]), int(epoch["upper"]))
    return Space(params)


class LCBench(Problem):
    """One OpenML task of LCBench: minimize validation error (and, multi-objective, training time)."""

    family = "lcbench"

    def __init__(self, task: int | str, multi_objective: bool = False) -> None:
        folder = _require_files()
        self._model = str(folder / "model.onnx")
        encoding, cs = _metadata(str(folder))
        self.task = int(task)
        if str(self.task) not in encoding or self.task not in available_tasks():
            raise ProblemUnavailable(
                f"LCBench has no task {task!r}; choose one of {', '.join(map(str, available_tasks()))}"
            )
        self.code = encoding[str(self.task)]
        self.multi_objective = bool(multi_objective)
        self.space = _space_from_config_space(cs)
        objectives = [Objective("val_error", "min")]
        if self.multi_objective:
            objectives.append(Objective("time", "min"))
        self.objectives = tuple(objectives)
        self.name = f"lcbench{'-mo' if self.multi_objective else ''}-{self.task}"
        self.family = "lcbench-mo" if self.multi_objective else "lcbench"

    def settings(self) -> dict[str, Any]:
        return {"task": self.task, "task_code": self.code, "model": "yahpo-gym v1 lcbench"}

    def evaluate_batch(
        self, configs: Sequence[Mapping[str, Any]], fidelity: float | np.ndarray, seed: int = 0
    ) -> dict[str, np.ndarray]:
        """All six surrogate outputs plus ``val_error`` (a fraction); the seed is unused (no noise)."""
        n = len(configs)
        x_cont = np.empty((n, len(INPUTS)), dtype=np.float32)
        x_cont[:, 0] = as_fidelity_array(fidelity, n)
        for j, name in enumerate(INPUTS[1:], start=1):
            x_cont[:, j] = [c[name] for c in configs]
        x_cat = np.full((n, 1), self.code, dtype=np.int32)
        y = _session(self._model).run(None, {"x_cat": x_cat, "x_cont": x_cont})[0].astype(float)
        out = {name: y[:, i] for i, name in enumerate(OUTPUTS)}
        out["val_error"] = 1.0 - out["val_accuracy"] / 100.0
        return out
