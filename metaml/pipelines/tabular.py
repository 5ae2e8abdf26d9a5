"""The built-in tabular pipeline: preprocessing, backbone, optimizer, schedule and regularization in one space.

A domain expert names the data and the objectives; every meta-level choice is a parameter:

```yaml
function: metaml.pipelines.tabular:train
space:
  dataset: {type: constant, value: adult}
  sensitive: {type: constant, value: sex}
  backbone: {type: categorical, choices: {mlp: {depth: {type: int, lower: 1, upper: 4}}, resnet: {}}}
  epochs: {type: fidelity, lower: 2, upper: 18}
```

Parameters the study's space leaves out take their defaults (``DEFAULTS``; the searched
part of the default space is ``DEFAULT_CONFIG``, a strong baseline: a 3x256 MLP, AdamW at
1e-3 with cosine decay, weight decay 1e-4, dropout 0.1). ``tabular_space()`` returns the
whole space; docs/pipelines.md lists every parameter with its range and condition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from metaml.core.trial_context import TrialContext
from metaml.data import Dataset, load_dataset
from metaml.pipelines import base, oneshot, scoring
from metaml.pipelines.base import PipelineError, PipelineSpec
from metaml.pipelines.evaluation import CheckpointTrial, kept_random_state
from metaml.pipelines.fairness import FAIRNESS_DEFAULTS, fairness_hooks, fairness_parameters
from metaml.pipelines.groups import GroupSizes, check_groups, count_groups
from metaml.pipelines.models import MODEL_DEFAULTS, build_tabular_model, model_parameters
from metaml.pipelines.optim import OPTIM_DEFAULTS, optimizer_parameters
from metaml.pipelines.preprocessing import PREPROCESSING_DEFAULTS, TabularPreprocessor, preprocessing_parameters
from metaml.pipelines.regularization import REGULARIZATION_DEFAULTS, regularization_parameters
from metaml.pipelines.scoring import check_metric_names
from metaml.pipelines.training import (
    Arrays,
    Hooks,
    Inputs,
    Outcome,
    fit,
    pick_device,
    seeded,
    stream_seed,
    torch_threads,
)
from metaml.space import Fidelity, Parameter

#: The default of every searched parameter, in every branch of the space.
DEFAULTS: dict[str, Any] = {
    **PREPROCESSING_DEFAULTS,
    **MODEL_DEFAULTS,
    **OPTIM_DEFAULTS,
    **REGULARIZATION_DEFAULTS,
    **FAIRNESS_DEFAULTS,
}
#: Metrics computed besides val_error when the space does not name them.
DEFAULT_METRICS = ("ece", "n_parameters", "latency_ms", "energy_wh")
SETTINGS = ("dataset", "target", "sensitive", "data_options", "metrics", *base.COMMON_SETTINGS)


def tabular_space(
    dataset: str = "breast_cancer",
    *,
    target: str | None = None,
    sensitive: str | Sequence[str] | None = None,
    data_options: Mapping[str, Any] | None = None,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = None,
    train_rows: int | None = None,
    metric_settings: Mapping[str, Mapping[str, Any]] | None = None,
    latency_batch: int = 64,
    epochs: int = 20,
    priors: str | None = None,
) -> dict[str, Parameter]:
    """The whole tabular space: settings as constants, every choice searchable, epochs the fidelity.

    ``dataset`` is a name of ``metaml.data.available_datasets()`` or a file (then ``target``
    names the label column); ``sensitive`` a column whose groups the fairness metrics
    compare, or a list of columns whose intersection makes the groups (it also adds the
    ``fairness`` choice); ``metrics`` what to compute besides
    ``val_error`` (default: ECE, parameters, latency, energy, and demographic parity with
    a sensitive column); ``priors`` (``low``/``medium``/``high``) writes the defaults as
    expert priors of that confidence.
    """
    if metrics is None:
        metrics = [*DEFAULT_METRICS, *(["demographic_parity_difference"] if sensitive else [])]
    settings = {
        "dataset": dataset, "target": target, "sensitive": sensitive, "data_options": dict(data_options or {}),
        "metrics": list(metrics), "seed": seed, "device": device, "threads": threads, "train_rows": train_rows,
        "metric_settings": dict(metric_settings or {}), "latency_batch": latency_batch,
    }  # fmt: skip
    searched: dict[str, Parameter] = {
        **preprocessing_parameters(),
        **model_parameters(),
        **optimizer_parameters(),
        **regularization_parameters(),
        **(fairness_parameters() if sensitive else {}),
    }
    return {
        **base.settings_parameters(settings),
        **base.with_priors(searched, DEFAULTS, priors),
        "epochs": Fidelity(1, epochs),
    }


#: The searched part of the default space at its defaults: the baseline any search should beat.
DEFAULT_CONFIG: dict[str, Any] = base.searched_defaults(tabular_space(), DEFAULTS)


def resolve(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` completed with the defaults and checked against the whole tabular space."""
    return base.resolve_config("tabular", config, tabular_space, DEFAULTS, SETTINGS)


@dataclass(frozen=True)
class Prepared:
    """The data of one trial, preprocessed: tensors per split and what the model's shape needs."""

    train: Arrays
    val: Arrays
    test: Arrays | None
    n_numeric: int
    cardinalities: tuple[int, ...]
    n_classes: int
    content_hash: str

    def provenance(self) -> dict[str, Any]:
        """What to record about the data: its hash and the rows of each split."""
        return base.data_provenance(self.content_hash, self.train, self.val, self.test)


def train(config: dict[str, Any], trial: TrialContext) -> dict[str, Any]:
    """Train the configured tabular pipeline up to ``trial.fidelity`` epochs; return its metrics.

    Returns ``val_error`` and the metrics the ``metrics`` setting names, all on the
    validation rows; the test rows are left for the final evaluation (``evaluate``).
    """
    cfg = base.with_run_settings(resolve(config), trial)
    names = scoring.trial_metric_names(cfg["metrics"], cfg["sensitive"] is not None, trial)
    with torch_threads(cfg["threads"]):
        device = pick_device(cfg["device"])
        data = prepare(cfg)
        base.write_provenance(trial, "tabular", cfg, data.provenance(), names)
        found: dict[str, float] = {}
        if trial.info.get("oneshot") == "supernet":  # a one-shot search's supernet (metaml.optimizers.oneshot)
            outcome, found = train_supernet(cfg, trial, data, device)
        else:
            outcome = train_model(cfg, trial, data, device)
        metrics = scoring.score(names, outcome.model, data.val, outcome.usage, int(cfg["latency_batch"]),
                                cfg["metric_settings"], seed=int(cfg["seed"]),
                                intervals=not found and scoring.front_candidate(trial))  # fmt: skip
        return {**metrics, **found}


def train_supernet(cfg: Mapping[str, Any], trial: TrialContext, data: Prepared,
                   device: torch.device) -> tuple[Outcome, dict[str, float]]:  # fmt: skip
    """Train the supernet over the candidates in ``trial.info``; the derived network and what the search found.

    The fairness hooks do not apply to the supernet: it decides the architecture, the
    ordinary trial of the derived architecture trains with them.
    """
    seed = int(cfg["seed"])
    with seeded(stream_seed(seed, 0), device):
        model = oneshot.build_supernet(cfg, trial.info, data.n_numeric, data.cardinalities, data.n_classes)
    return oneshot.search(cfg, trial, model, data.train, data.val, seed, device)


def group_sizes(config: Mapping[str, Any]) -> GroupSizes | None:
    """The rows of each sensitive group per split, checked (``metaml.pipelines.groups``); None without one.

    ``metaml run`` calls it on the study's default configuration before the first trial.
    """
    cfg = resolve(config)
    if cfg["sensitive"] is None:
        return None
    data = prepare(cfg)
    splits = {"training": data.train.groups, "validation": data.val.groups,
              "test": None if data.test is None else data.test.groups}  # fmt: skip
    names = check_metric_names([*cfg["metrics"]], True)
    column = cfg["sensitive"] if isinstance(cfg["sensitive"], str) else " & ".join(cfg["sensitive"])
    return check_groups(column, count_groups(splits), names, cfg["metric_settings"])


def train_model(cfg: Mapping[str, Any], trial: TrialContext, data: Prepared, device: torch.device) -> Outcome:
    """Build the resolved config's model and train it up to ``trial.fidelity`` epochs: ``train`` before scoring.

    The benchmark's in-memory runs call it with their own trial context.
    """
    seed = int(cfg["seed"])
    model = _model(cfg, data, seed, device)
    positive = int(cfg["metric_settings"].get("demographic_parity_difference", {}).get("pos_label", 1))
    weights, penalty = fairness_hooks(cfg, data.train.groups, data.train.y.numpy(), device, positive)
    hooks = Hooks(cutmix=tabular_cutmix, penalty=penalty, sample_weight=weights,
                  build=lambda values: _model(values, data, seed, torch.device("cpu")))
    return fit(cfg, trial, model, data.train, data.val, hooks, seed, device)


def evaluate(config: Mapping[str, Any], trial: CheckpointTrial) -> dict[str, Any]:
    """The test-row metrics (``test_error``, ...) of the model a finished trial left in its checkpoint."""
    cfg = base.with_run_settings(resolve(config), trial)
    names = scoring.evaluated_metric_names(cfg["metrics"], cfg["sensitive"] is not None, trial.path.parent)
    with torch_threads(cfg["threads"]), kept_random_state():
        device = pick_device(cfg["device"])
        seed = int(cfg["seed"])
        data = prepare(cfg)
        trial.check_data(data.provenance())
        if data.test is None or not len(data.test):
            raise PipelineError(f"dataset {cfg['dataset']!r} has no test rows: there is nothing to evaluate on")
        model = _model(cfg, data, seed, device)
        outcome = fit(cfg, trial, model, data.train, data.val, Hooks(), seed, device)
        return scoring.score_test(names, outcome.model, data.test, cfg["metric_settings"], seed=seed)


def _model(cfg: Mapping[str, Any], data: Prepared, seed: int, device: torch.device) -> torch.nn.Module:
    with seeded(stream_seed(seed, 0), device):
        return build_tabular_model(cfg, data.n_numeric, data.cardinalities, data.n_classes)


def tabular_cutmix(inputs: Inputs, perm: torch.Tensor, lam: float, generator: torch.Generator) -> tuple[Inputs, float]:
    """CutMix for tables (as in Kadra et al.): a random subset of the features comes from the partner row."""
    numeric, codes = inputs
    n_num, d = numeric.shape[1], numeric.shape[1] + codes.shape[1]
    swapped = int(round((1.0 - lam) * d))
    mask = torch.zeros(d, dtype=torch.bool)
    mask[torch.randperm(d, generator=generator)[:swapped]] = True
    mask = mask.to(numeric.device)
    numeric = torch.where(mask[:n_num], numeric[perm], numeric)
    codes = torch.where(mask[n_num:], codes[perm], codes)
    return (numeric, codes), 1.0 - swapped / d


def prepare(cfg: Mapping[str, Any]) -> Prepared:
    """Load, split and preprocess the data the config names (cached within the process)."""
    key = json.dumps(
        {k: cfg[k] for k in ("dataset", "target", "sensitive", "data_options", "seed", "train_rows", "scaling",
                             "imputation")},
        sort_keys=True,
        default=str,
    )
    return _prepare(key)


@lru_cache(maxsize=8)
def _prepare(key: str) -> Prepared:
    cfg = json.loads(key)
    sensitive = cfg["sensitive"]
    sensitive = tuple(sensitive) if isinstance(sensitive, list) else sensitive  # an intersection: hashable for the cache
    dataset = _load(cfg["dataset"], cfg["target"], sensitive, json.dumps(cfg["data_options"], sort_keys=True))
    seed = int(cfg["seed"])
    split = dataset.split(seed)
    train_rows = subsample(split.train, dataset.y, cfg["train_rows"], seed)
    if min(len(train_rows), len(split.val)) == 0:
        raise PipelineError(f"dataset {dataset.name!r}: the split left no training or validation rows")
    pre = TabularPreprocessor(
        dataset.numeric, dataset.categorical, dataset.cardinalities, cfg["scaling"], cfg["imputation"], seed
    ).fit(dataset.X[train_rows])

    def arrays(rows: np.ndarray) -> Arrays:
        encoded = pre.transform(dataset.X[rows])
        groups = None if dataset.sensitive is None else dataset.sensitive[rows]
        y = torch.from_numpy(np.ascontiguousarray(dataset.y[rows]))
        return Arrays((torch.from_numpy(encoded.numeric), torch.from_numpy(encoded.codes)), y, groups)

    return Prepared(
        train=arrays(train_rows),
        val=arrays(split.val),
        test=arrays(split.test) if len(split.test) else None,
        n_numeric=pre.n_numeric,
        cardinalities=pre.cardinalities,
        n_classes=dataset.n_classes,
        content_hash=dataset.content_hash,
    )


@lru_cache(maxsize=4)
def _load(name: str, target: str | None, sensitive: str | tuple[str, ...] | None, options: str) -> Dataset:
    kwargs: dict[str, Any] = dict(json.loads(options))
    if target is not None:
        kwargs["target"] = target
    if sensitive is not None:
        kwargs["sensitive"] = sensitive
    return load_dataset(name, **kwargs)


def subsample(rows: np.ndarray, y: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """A seeded subset of ``n`` of ``rows`` that keeps each class's share (all rows when n is None)."""
    if n is None or n >= len(rows):
        return rows
    rng = np.random.default_rng([int(seed), 1])
    keep = []
    for c in np.unique(y[rows]):
        members = rows[y[rows] == c]
        k = max(1, int(round(n * len(members) / len(rows))))
        keep.append(rng.permutation(members)[:k])
    return np.sort(np.concatenate(keep))


SPEC = PipelineSpec("tabular", tabular_space, DEFAULTS, SETTINGS, train, evaluate, group_sizes)
