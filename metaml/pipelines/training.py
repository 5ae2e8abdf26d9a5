"""The training loop every built-in pipeline shares: restore, train epochs, report, checkpoint.

It keeps the prefix invariant of the design (training to epoch f, then continuing to f',
gives bitwise what training to f' directly gives, on CPU):

- the learning rate is a function of the step within the FULL run (``LRSchedule``);
- each epoch draws its randomness (order, dropout, augmentation, mixing) from streams
  seeded by (seed, epoch) only, inside ``torch.random.fork_rng`` so that the caller's
  global random state is left as it was;
- everything with state (model, optimizer, schedule, SWA, lookahead, snapshots, the
  resources used so far) is checkpointed after every epoch and restored on promotion.

A loss that turns NaN or infinite raises ``DivergedError``; running out of memory raises
``OutOfMemoryError``: the study records the trial as failed with that message.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from metaml.core.trial_context import TrialContext
from metaml.metrics import ResourceMeter, ResourceUsage
from metaml.pipelines import regularization as reg
from metaml.pipelines.base import DivergedError, OutOfMemoryError, PipelineError
from metaml.pipelines.hypergradient import HypergradientLR, from_config
from metaml.pipelines.optim import LRSchedule, build_optimizer, cycle_boundaries
from metaml.pipelines.scheduled import Scheduled

log = logging.getLogger(__name__)

#: Epochs of a full run when the study's space has no fidelity.
DEFAULT_EPOCHS = 20
#: Rows per forward pass when predicting (memory, not results, depends on it).
PREDICT_BATCH = 2048

Inputs = tuple[torch.Tensor, ...]


@dataclass
class Arrays:
    """One part of the data as tensors: the model's inputs, the labels, and the sensitive groups."""

    inputs: Inputs
    y: torch.Tensor
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: torch.device) -> Arrays:
        return Arrays(tuple(x.to(device) for x in self.inputs), self.y.to(device), self.groups)

    def rows(self, index: torch.Tensor) -> Inputs:
        return tuple(x[index] for x in self.inputs)


@dataclass
class Hooks:
    """What differs between pipelines inside the shared loop.

    ``augment(inputs, generator)`` transforms a training batch (images); ``cutmix(inputs,
    perm, lam, generator)`` pastes part of each example's shuffled partner into it and
    returns the inputs with the weight actually kept; ``penalty(logits, rows)`` adds a term
    to the loss (the fairness penalty); ``sample_weight`` weighs each training row's loss;
    ``parameter_groups(model)`` gives the optimizer's groups (their own rates, an ``lr_scale``
    the schedule keeps) instead of all the model's parameters at one rate. ``pretrain(model,
    device)`` changes the fresh model in place before epoch 1 (self-supervised pretraining,
    ``metaml.pipelines.ssl``) and says what it did; it runs only when the trial starts from
    scratch (a checkpoint already holds its result), and its time is charged to the trial.
    """

    augment: Callable[[Inputs, torch.Generator], Inputs] | None = None
    cutmix: Callable[[Inputs, torch.Tensor, float, torch.Generator], tuple[Inputs, float]] | None = None
    penalty: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    sample_weight: torch.Tensor | None = None
    #: Builds the model of a configuration (on the CPU): where a schedule changes the dropout rates mid-run,
    #: the rates are copied from the model of that epoch's values (``metaml.pipelines.scheduled``).
    build: Callable[[Mapping[str, Any]], nn.Module] | None = None
    parameter_groups: Callable[[nn.Module], list[dict[str, Any]]] | None = None
    pretrain: Callable[[nn.Module, torch.device], dict[str, float]] | None = None


class Progress:
    """Resources used by all the epochs trained so far, across promotions (for energy_wh)."""

    def __init__(self) -> None:
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0
        self.gpu_seconds = 0.0

    def add(self, usage: ResourceUsage | None) -> None:
        if usage is not None:
            self.cpu_seconds += usage.cpu_seconds
            self.wall_seconds += usage.wall_seconds
            self.gpu_seconds += usage.gpu_seconds

    @property
    def usage(self) -> ResourceUsage:
        return ResourceUsage(self.cpu_seconds, self.wall_seconds, self.gpu_seconds)

    def state_dict(self) -> dict[str, float]:
        return {"cpu_seconds": self.cpu_seconds, "wall_seconds": self.wall_seconds, "gpu_seconds": self.gpu_seconds}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.cpu_seconds = float(state["cpu_seconds"])
        self.wall_seconds = float(state["wall_seconds"])
        self.gpu_seconds = float(state["gpu_seconds"])


@dataclass
class Outcome:
    """What training leaves for scoring: the model to evaluate, how far it got, what it used."""

    model: nn.Module
    epochs: int
    usage: ResourceUsage
    curve: list[dict[str, float]] = field(default_factory=list)
    #: What ``Hooks.pretrain`` did in this run (with its wall seconds); empty when it did not run here.
    pretrained: dict[str, float] = field(default_factory=dict)


def pick_device(name: str | None) -> torch.device:
    """``auto`` is CUDA when available, else CPU; anything else is passed to torch as is."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(str(name))
    except RuntimeError as exc:
        raise PipelineError(f"device {name!r} is not a device torch knows: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PipelineError(f"device {name!r} was asked for, but CUDA is not available here; use device: auto")
    return device


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run a block on ``threads`` torch threads (all of them when None), then restore the count."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def stream_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed for the random stream named by ``keys`` (e.g. the epoch) under ``seed``."""
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(2, np.uint64)[0] >> np.uint64(1))


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run a block with torch's global generators seeded, restoring them afterwards.

    Dropout and initialization draw from torch's global generator; forking it keeps those
    draws a function of ``seed`` alone without changing the caller's random state.
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def epoch_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A shuffled split of ``n`` rows into ``n // batch_size`` batches of near-equal size.

    No batch is smaller than ``batch_size`` (nor a lone example, which batch norm refuses)
    and no row is dropped; the number of steps per epoch never changes.
    """
    order = torch.randperm(n, generator=generator)
    return list(torch.tensor_split(order, steps_per_epoch(n, batch_size)))


def steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, n // max(1, batch_size))


def fit(
    config: Mapping[str, Any],
    trial: TrialContext,
    model: nn.Module,
    train: Arrays,
    val: Arrays,
    hooks: Hooks,
    seed: int,
    device: torch.device,
) -> Outcome:
    """Train ``model`` up to ``trial.fidelity`` epochs (continuing a checkpoint if there is one)."""
    fidelity = int(trial.fidelity or trial.max_fidelity or DEFAULT_EPOCHS)
    full = int(max(trial.max_fidelity or fidelity, fidelity))
    batch_size = min(int(config["batch_size"]), len(train))
    steps = steps_per_epoch(len(train), batch_size)
    model.to(device)
    if device.type == "cuda":
        # The prefix invariant on a GPU (continuing a checkpoint equals training straight
        # through, bit for bit): cuDNN's autotuned convolution algorithms are not deterministic.
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    train, val = train.to(device), val.to(device)
    sample_weight = None if hooks.sample_weight is None else hooks.sample_weight.to(device)
    groups = hooks.parameter_groups(model) if hooks.parameter_groups is not None else model.parameters()
    optimizer = build_optimizer(config, groups, reg.weight_decay(config))
    cycles = int(config["snapshots.enabled.cycles"]) if config["snapshots"] == "enabled" else 1
    schedule = LRSchedule(optimizer, config, full, steps, cycles)
    progress = Progress()
    objects: dict[str, Any] = {"model": model, "optimizer": optimizer, "schedule": schedule, "progress": progress}
    swa = reg.SWA(model, float(config["swa.enabled.start"]), full) if config["swa"] == "enabled" else None
    lookahead = None
    if config["lookahead"] == "enabled":
        params = [p for p in model.parameters() if p.requires_grad]
        lookahead = reg.Lookahead(params, int(config["lookahead.enabled.k"]), float(config["lookahead.enabled.alpha"]))
    snapshots = reg.Snapshots(cycle_boundaries(full, cycles)) if cycles > 1 else None
    hyper = from_config(config)
    for name, extra in (("swa", swa), ("lookahead", lookahead), ("snapshots", snapshots), ("hypergradient", hyper)):
        if extra is not None:
            objects[name] = extra
    start = int(trial.restore(**objects))
    pretrained: dict[str, float] = {}
    if start == 0 and hooks.pretrain is not None:
        with ResourceMeter(gpus=1 if device.type == "cuda" else 0) as meter, memory_errors(config, device):
            pretrained = dict(hooks.pretrain(model, device))
        progress.add(meter.usage)  # the pretraining's time and energy are the trial's, checkpointed with it
        if meter.usage is not None:
            pretrained["seconds"] = meter.usage.wall_seconds
        if lookahead is not None:  # its slow weights were copied from the model before pretraining changed it
            lookahead.reset()
    scheduled = Scheduled(config, trial, model, optimizer, schedule, hooks.build)
    curve: list[dict[str, float]] = []
    epoch = start
    for epoch in range(start + 1, fidelity + 1):
        values = scheduled.epoch(epoch)  # this epoch's lr, weight decay, dropout, mixing, smoothing, clipping
        smoothing, clip = reg.label_smoothing(values), reg.grad_clip(values)
        with ResourceMeter(gpus=1 if device.type == "cuda" else 0) as meter, memory_errors(config, device):
            loss = _train_epoch(
                values, model, optimizer, schedule, lookahead, train, hooks, sample_weight,
                stream_seed(seed, epoch), device, batch_size, smoothing, clip, hyper,
            )
        if not math.isfinite(loss):
            raise DivergedError(
                f"training diverged: the loss became {loss} in epoch {epoch} (optimizer {config['optimizer']}, "
                f"lr {float(values['lr']):.3g}); the trial is recorded as failed. A lower learning rate, "
                "gradient clipping or batch norm usually helps"
            )
        progress.add(meter.usage)
        if swa is not None:
            swa.after_epoch(model, epoch)
        if snapshots is not None:
            snapshots.after_epoch(model, epoch)
        evaluated = evaluation_model(model, swa, snapshots, epoch)
        probs = predict(evaluated, val)
        error = float(np.mean(probs.argmax(1) != val.y.cpu().numpy()))
        point = {"val_error": error, "train_loss": loss, "lr": schedule.lr()}
        if hyper is not None:  # the learned schedule: the rate of the coming step and its learned factor
            point.update(lr=schedule.lr() * hyper.scale, lr_scale=hyper.scale)
        curve.append(point)
        trial.report(epoch, **point)
        trial.checkpoint(epoch, **objects)
        if trial.should_stop():
            break
    return Outcome(evaluation_model(model, swa, snapshots, epoch), epoch, progress.usage, curve, pretrained)


def _train_epoch(
    config: Mapping[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: LRSchedule,
    lookahead: reg.Lookahead | None,
    train: Arrays,
    hooks: Hooks,
    sample_weight: torch.Tensor | None,
    seed: int,
    device: torch.device,
    batch_size: int,
    smoothing: float,
    clip: float | None,
    hyper: HypergradientLR | None = None,
) -> float:
    """One epoch over the training rows; return the mean training loss."""
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    total = torch.zeros((), device=device)
    batches = epoch_batches(len(train), batch_size, generator)
    trained = [p for p in model.parameters() if p.requires_grad] if hyper is not None else []
    model.train()
    with seeded(seed, device):
        for rows in batches:
            rows = rows.to(device)
            inputs, y = train.rows(rows), train.y[rows]
            if hooks.augment is not None:
                inputs = hooks.augment(inputs, generator)
            lam = reg.mixing_lambda(config, rng)
            y_other = None
            if lam is None:
                logits = model(*inputs)
            else:
                perm = torch.randperm(len(rows), generator=generator).to(device)
                y_other = y[perm]
                if config["mixing"] == "cutmix" and hooks.cutmix is not None:
                    inputs, lam = hooks.cutmix(inputs, perm, lam, generator)
                    logits = model(*inputs)
                else:  # mixup, on the model's embedding of the inputs (the images themselves for vision)
                    z = model.embed(*inputs)  # type: ignore[operator]
                    logits = model.head(lam * z + (1.0 - lam) * z[perm])  # type: ignore[operator]
            per_row = reg.mixed_loss(logits, y, y_other, lam, smoothing)
            if sample_weight is not None:
                w = sample_weight[rows]
                if y_other is not None and lam is not None:
                    w = lam * w + (1.0 - lam) * w[perm]
                loss = (w * per_row).sum() / w.sum()
            else:
                loss = per_row.mean()
            if hooks.penalty is not None:
                loss = loss + hooks.penalty(logits, rows)
            optimizer.zero_grad(set_to_none=True)
            lr = schedule.apply()
            loss.backward()
            if hyper is not None:  # the gradient at this point tells how good the last step's rate was
                factor = hyper.observe(trained)
                lr *= factor  # every group's step is linear in this common rate (a group's lr_scale stays)
                for group in optimizer.param_groups:
                    group["lr"] *= factor
                before = [p.detach().clone() for p in trained]
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            if hyper is not None:
                hyper.remember(trained, before, lr)
            schedule.advance()
            if lookahead is not None:
                lookahead.step()
            total += loss.detach()
    return float(total) / len(batches)


def evaluation_model(model: nn.Module, swa: reg.SWA | None, snapshots: reg.Snapshots | None, epoch: int) -> nn.Module:
    """The model whose predictions count: the SWA average once it exists, the snapshot ensemble."""
    current: nn.Module = swa.average.module if swa is not None and swa.ready else model
    if snapshots is None:
        return current
    members = snapshots.members(model, current, epoch)
    return members[0] if len(members) == 1 else reg.Ensemble(members)


@torch.no_grad()
def predict(model: nn.Module, data: Arrays) -> np.ndarray:
    """Class probabilities ``[n, k]`` (float64) of ``model`` in eval mode."""
    was_training = model.training
    model.eval()
    try:
        out = [
            torch.softmax(model(*(x[i : i + PREDICT_BATCH] for x in data.inputs)).double(), dim=-1).cpu()
            for i in range(0, len(data), PREDICT_BATCH)
        ]
    finally:
        model.train(was_training)
    probs = torch.cat(out).numpy()
    if not np.all(np.isfinite(probs)):
        raise DivergedError("training diverged: the model predicts NaN or infinite probabilities")
    return probs


@contextlib.contextmanager
def memory_errors(config: Mapping[str, Any], device: torch.device) -> Iterator[None]:
    """Turn torch's out-of-memory errors into one clear failure of the trial."""
    try:
        yield
    except (torch.OutOfMemoryError, MemoryError) as exc:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        raise OutOfMemoryError(_memory_message(config, device, exc)) from None
    except RuntimeError as exc:
        text = str(exc).lower()
        if "out of memory" not in text and "can't allocate memory" not in text:  # CUDA's words, then the CPU allocator's
            raise
        raise OutOfMemoryError(_memory_message(config, device, exc)) from None


def _memory_message(config: Mapping[str, Any], device: torch.device, exc: BaseException) -> str:
    # The host allocator can run out while a GPU trains (data on the host side): name the one that did.
    host = isinstance(exc, MemoryError) or "cpuallocator" in str(exc).lower()
    where = "cpu" if host else str(device)
    length = f", max_len {config['max_len']}" if "max_len" in config else ""  # the text pipeline's sequences
    return (
        f"training needs more memory than {where} has (batch size {config['batch_size']}{length}): "
        f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; a smaller batch size or model fits in less"
    )
