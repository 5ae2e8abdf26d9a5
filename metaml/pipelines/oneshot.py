"""One-shot architecture search inside one trial: train the supernet, watch it, derive one architecture.

The bilevel loop of first-order DARTS (Liu et al. 2019): the training rows are split in
two seeded halves; at every step the architecture parameters take an Adam step on a batch
of one half, then the weights a step of the configured optimizer and schedule on a batch of
the other. The study's validation rows are only reported on (the curve's ``val_error`` is
the derived architecture's, with inherited weights), never decided on.

Robustness (``info['robust']``, on by default), measured every epoch on the architecture's
half (``metaml.pipelines.oneshot_health``): when a failure sign appears, the architecture
updates stop and the architecture weights of the epoch before are restored (DARTS-ES,
Zela et al. 2020); the weights train on. The derivation then picks each choice by the
error of the discrete candidates with inherited weights on the architecture's half
(``selection: perturbation``, after Wang et al. 2021), which does not trust the mixture
weights' magnitudes; ``selection: argmax`` is DARTS' own rule. A collapse that could not be
remedied (a sign in the first epoch, or robustness off) is returned as
``oneshot.unremedied = 1``, and the ``oneshot`` optimizer hands the search to ``bohb``.

Everything with state (supernet, both optimizers, schedule, health, the previous epoch's
architecture weights) is checkpointed every epoch, so the prefix invariant holds here too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from metaml.core.trial_context import TrialContext
from metaml.metrics import ResourceMeter
from metaml.pipelines import regularization as reg
from metaml.pipelines.base import DivergedError
from metaml.pipelines.models import FeatureEncoder
from metaml.pipelines.oneshot_health import Health, dominant_eigenvalue
from metaml.pipelines.optim import LRSchedule, build_optimizer
from metaml.pipelines.supernet import TABULAR_ARCHITECTURE, SuperMLP, Supernet, candidates_from
from metaml.pipelines.training import (
    DEFAULT_EPOCHS,
    Arrays,
    Outcome,
    Progress,
    epoch_batches,
    predict,
    seeded,
    steps_per_epoch,
    stream_seed,
)

#: Adam's learning rate for the architecture parameters (DARTS: 3e-4 for CNNs; tables need more).
ARCH_LR = 3e-3
#: Rows of the architecture's half the curvature is measured on.
CURVATURE_ROWS = 256
SELECTIONS = ("perturbation", "argmax")


class PreviousArchitecture:
    """The architecture weights of the last healthy epoch: what the DARTS-ES remedy goes back to."""

    def __init__(self, model: Supernet) -> None:
        self.alphas = [p.detach().clone() for p in model.arch_parameters()]

    def save(self, model: Supernet) -> None:
        self.alphas = [p.detach().clone() for p in model.arch_parameters()]

    @torch.no_grad()
    def restore_into(self, model: Supernet) -> None:
        for p, kept in zip(model.arch_parameters(), self.alphas, strict=True):
            p.copy_(kept)

    def state_dict(self) -> dict[str, Any]:
        return {"alphas": [a.clone() for a in self.alphas]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.alphas = [torch.as_tensor(a) for a in state["alphas"]]


def build_supernet(cfg: Mapping[str, Any], info: Mapping[str, Any], n_numeric: int, cardinalities: Any,
                   n_classes: int) -> SuperMLP:  # fmt: skip
    """The tabular supernet of the candidates the optimizer named, with the config's encoding, norm and dropout."""
    dim = int(cfg["categorical_encoding.embedding.dim"]) if cfg["categorical_encoding"] == "embedding" else None
    choices = candidates_from(info, cfg, TABULAR_ARCHITECTURE)
    return SuperMLP(FeatureEncoder(n_numeric, cardinalities, dim), n_classes, choices, cfg)


def search(
    cfg: Mapping[str, Any], trial: TrialContext, model: Supernet, train: Arrays, val: Arrays, seed: int,
    device: torch.device,
) -> tuple[Outcome, dict[str, float]]:  # fmt: skip
    """Train the supernet up to ``trial.fidelity`` epochs; return the derived network and what the search found."""
    info = trial.info
    robust = bool(info.get("robust", True))
    selection = str(info.get("selection", "perturbation"))
    if selection not in SELECTIONS:
        raise ValueError(f"one-shot selection must be one of {', '.join(SELECTIONS)}, got {selection!r}")
    fidelity = int(trial.fidelity or trial.max_fidelity or DEFAULT_EPOCHS)
    full = int(max(trial.max_fidelity or fidelity, fidelity))
    model.to(device)
    weights_half, arch_half = _halves(train, seed)
    weights_half, arch_half, val = weights_half.to(device), arch_half.to(device), val.to(device)
    batch_size = min(int(cfg["batch_size"]), len(weights_half))
    steps = steps_per_epoch(len(weights_half), batch_size)
    optimizer = build_optimizer(cfg, model.weight_parameters(), reg.weight_decay(cfg))
    schedule = LRSchedule(optimizer, cfg, full, steps)
    arch_optimizer = torch.optim.Adam(model.arch_parameters(), lr=float(info.get("arch_lr", ARCH_LR)),
                                      betas=(0.5, 0.999), weight_decay=1e-3)  # fmt: skip
    health, previous, progress = Health(), PreviousArchitecture(model), Progress()
    objects: dict[str, Any] = {"model": model, "optimizer": optimizer, "arch_optimizer": arch_optimizer,
                               "schedule": schedule, "health": health, "previous": previous, "progress": progress}  # fmt: skip
    start = int(trial.restore(**objects))
    smoothing, clip = reg.label_smoothing(cfg), reg.grad_clip(cfg)
    curve: list[dict[str, float]] = []
    epoch = start
    for epoch in range(start + 1, fidelity + 1):
        with ResourceMeter(gpus=1 if device.type == "cuda" else 0) as meter:
            loss, arch_loss = _epoch(model, optimizer, schedule, arch_optimizer, health.stopped_at is None,
                                     weights_half, arch_half, stream_seed(seed, epoch), device, batch_size,
                                     smoothing, clip)  # fmt: skip
        if not math.isfinite(loss):
            raise DivergedError(f"the supernet's training diverged: the loss became {loss} in epoch {epoch}")
        progress.add(meter.usage)
        point = _watch(model, health, previous, robust, epoch, arch_half, seed)
        derived = model.derive()
        point.update(val_error=_error(model, val, derived), supernet_val_error=_error(model, val, None),
                     train_loss=loss, arch_loss=arch_loss, lr=schedule.lr(), **model.weights_report())  # fmt: skip
        curve.append(point)
        trial.report(epoch, **point)
        trial.checkpoint(epoch, **objects)
        if trial.should_stop():
            break
    choice = select(model, arch_half, selection)
    model.fix(choice)
    return Outcome(model, epoch, progress.usage, curve), found(model, choice, health, robust)


def found(model: Supernet, choice: Mapping[str, Any], health: Health, robust: bool) -> dict[str, float]:
    """What the search found, as numbers the optimizer reads from the store: each choice's index in its candidates."""
    unremedied = health.reason is not None and (not robust or (health.stopped_at or 0) <= 1)
    out = {f"oneshot.{name}": float(values.index(choice[name])) for name, values in model.choices.items()}
    out.update({
        "oneshot.collapse_detected": 0.0 if health.reason is None else 1.0,
        "oneshot.architecture_stopped_at": float(health.stopped_at or 0),
        "oneshot.unremedied": 1.0 if unremedied else 0.0,
    })  # fmt: skip
    return out


def _halves(train: Arrays, seed: int) -> tuple[Arrays, Arrays]:
    """The training rows split in two seeded halves: weights learn on one, the architecture on the other."""
    order = torch.from_numpy(np.random.default_rng([int(seed), 7]).permutation(len(train)))
    cut = max(1, len(train) // 2)
    parts = []
    for rows in (order[:cut], order[cut:]):
        groups = None if train.groups is None else train.groups[rows.numpy()]
        parts.append(Arrays(train.rows(rows), train.y[rows], groups))
    return parts[0], parts[1]


def _epoch(model: Supernet, optimizer: torch.optim.Optimizer, schedule: LRSchedule,
           arch_optimizer: torch.optim.Optimizer, search_architecture: bool, weights_half: Arrays,
           arch_half: Arrays, seed: int, device: torch.device, batch_size: int, smoothing: float,
           clip: float | None) -> tuple[float, float]:  # fmt: skip
    """One epoch of alternating steps; return the mean weight loss and the mean architecture loss."""
    generator = torch.Generator().manual_seed(seed)
    batches = epoch_batches(len(weights_half), batch_size, generator)
    arch_batches = epoch_batches(len(arch_half), min(batch_size, len(arch_half)), generator)
    total, arch_total = torch.zeros((), device=device), torch.zeros((), device=device)
    arch_params, weights = model.arch_parameters(), model.weight_parameters()
    model.train()
    with seeded(seed, device):
        for i, rows in enumerate(batches):
            if search_architecture:
                arch_rows = arch_batches[i % len(arch_batches)].to(device)
                arch_optimizer.zero_grad(set_to_none=True)
                arch_loss = nn.functional.cross_entropy(model(*arch_half.rows(arch_rows)), arch_half.y[arch_rows])
                grads = torch.autograd.grad(arch_loss, arch_params, allow_unused=True)
                for p, g in zip(arch_params, grads, strict=True):
                    p.grad = g
                arch_optimizer.step()
                arch_total += arch_loss.detach()
            rows = rows.to(device)
            optimizer.zero_grad(set_to_none=True)
            schedule.apply()
            per_row = reg.mixed_loss(model(*weights_half.rows(rows)), weights_half.y[rows], None, None, smoothing)
            loss = per_row.mean()
            grads = torch.autograd.grad(loss, weights, allow_unused=True)
            for p, g in zip(weights, grads, strict=True):
                p.grad = g
            if clip is not None:
                nn.utils.clip_grad_norm_(weights, clip)
            optimizer.step()
            schedule.advance()
            total += loss.detach()
    return float(total) / len(batches), (float(arch_total) / len(batches) if search_architecture else math.nan)


def _watch(model: Supernet, health: Health, previous: PreviousArchitecture, robust: bool, epoch: int,
           arch_half: Arrays, seed: int) -> dict[str, float]:  # fmt: skip
    """The epoch's failure signs; with robustness on, stop the architecture at the first one."""
    rows = torch.arange(min(CURVATURE_ROWS, len(arch_half)), device=arch_half.y.device)
    was_training = model.training
    model.eval()  # batch-norm statistics and dropout held still: the curvature of one function
    try:
        def loss() -> torch.Tensor:
            return nn.functional.cross_entropy(model(*arch_half.rows(rows)), arch_half.y[rows])

        eigenvalue = dominant_eigenvalue(loss, model.arch_parameters(), seed=seed + epoch)
    finally:
        model.train(was_training)
    share = model.parameter_free_share()
    error = _error(model, arch_half, None)
    point = {"hessian_eigenvalue": eigenvalue, "parameter_free_share": share, "arch_error": error}
    if health.stopped_at is not None or health.reason is not None:
        health.check(epoch, eigenvalue, share, error)  # still recorded, no longer acted on
        return point
    reason = health.check(epoch, eigenvalue, share, error)
    if reason is None:
        previous.save(model)
    elif robust:
        previous.restore_into(model)  # back to the last healthy epoch's architecture
        health.stop(epoch, reason)
    else:
        health.reason = reason  # seen, not acted on: the derivation runs on the collapsed weights
    return point


def _error(model: Supernet, data: Arrays, choice: Mapping[str, Any] | None) -> float:
    """The classification error of the discrete network ``choice`` (None: the relaxed supernet) on ``data``."""
    kept = model.fixed
    model.fix(choice)
    try:
        probs = predict(model, data)
    except DivergedError:
        return math.nan
    finally:
        model.fix(kept)
    return float(np.mean(probs.argmax(1) != data.y.cpu().numpy()))


def select(model: Supernet, data: Arrays, selection: str) -> dict[str, Any]:
    """The derived architecture: the argmax of the weights, or each choice by its discrete candidates' error.

    ``perturbation`` starts from the argmax and settles each choice in turn (depth first),
    by the error of every candidate (the others held) with the inherited weights on
    ``data``; ties go to the argmax's value, then to the earlier candidate.
    """
    choice = model.derive()
    if selection == "argmax":
        return choice
    for name, values in model.choices.items():
        if len(values) < 2:
            continue
        scored = [(_error(model, data, {**choice, name: v}), 0 if v == choice[name] else 1, i)
                  for i, v in enumerate(values)]  # fmt: skip
        finite = [s for s in scored if math.isfinite(s[0])]
        if finite:
            choice[name] = values[min(finite)[2]]
    return choice
