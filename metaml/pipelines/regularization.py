"""The regularization cocktail (Kadra et al. 2021), each ingredient switchable in the space.

Weight decay (decoupled under AdamW), dropout, mixup or cutmix, label smoothing, stochastic
weight averaging (SWA), lookahead, snapshot ensembling and gradient clipping. Every
ingredient is a categorical ``disabled``/``enabled`` (names YAML does not turn into
booleans, as it does on/off) whose ``enabled`` choice carries its strength, so a search
can switch it on and tune it jointly with everything else, and each ingredient that keeps
state (SWA's average, lookahead's slow weights, the snapshots) has a ``state_dict``
that goes into the trial's checkpoint: a promoted trial resumes them exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_swa_avg_fn

from metaml.space import Categorical, Float, Int, Parameter

REGULARIZATION_DEFAULTS: dict[str, Any] = {
    "weight_decay": "enabled",
    "weight_decay.enabled.strength": 1e-4,
    "dropout": "enabled",
    "dropout.enabled.rate": 0.1,
    "dropout.enabled.shape": "brick",
    "mixing": "none",
    "mixing.mixup.alpha": 0.2,
    "mixing.cutmix.alpha": 1.0,
    "label_smoothing": "disabled",
    "label_smoothing.enabled.epsilon": 0.1,
    "swa": "disabled",
    "swa.enabled.start": 0.75,
    "lookahead": "disabled",
    "lookahead.enabled.k": 5,
    "lookahead.enabled.alpha": 0.5,
    "snapshots": "disabled",
    "snapshots.enabled.cycles": 3,
    "grad_clip": "disabled",
    "grad_clip.enabled.max_norm": 1.0,
}


def regularization_parameters(dropout_shape: bool = True) -> dict[str, Parameter]:
    """The cocktail's switches, each with the strengths its ``enabled`` choice needs."""
    dropout: dict[str, Parameter] = {"rate": Float(0.0, 0.8, schedulable=True)}
    if dropout_shape:
        dropout["shape"] = Categorical(["brick", "funnel"])
    return {
        "weight_decay": Categorical({"disabled": {}, "enabled": {"strength": Float(1e-6, 0.1, log=True, schedulable=True)}}),
        "dropout": Categorical({"disabled": {}, "enabled": dropout}),
        "mixing": Categorical(
            {
                "none": {},
                "mixup": {"alpha": Float(0.05, 1.0, log=True, schedulable=True)},
                "cutmix": {"alpha": Float(0.1, 2.0, log=True, schedulable=True)},
            }
        ),
        "label_smoothing": Categorical({"disabled": {}, "enabled": {"epsilon": Float(0.01, 0.3, schedulable=True)}}),
        "swa": Categorical({"disabled": {}, "enabled": {"start": Float(0.5, 0.95)}}),
        "lookahead": Categorical({"disabled": {}, "enabled": {"k": Int(2, 10), "alpha": Float(0.2, 0.8)}}),
        "snapshots": Categorical({"disabled": {}, "enabled": {"cycles": Int(2, 5, structural=True)}}),
        "grad_clip": Categorical({"disabled": {}, "enabled": {"max_norm": Float(0.1, 10.0, log=True, schedulable=True)}}),
    }


def weight_decay(config: Mapping[str, Any]) -> float:
    return float(config["weight_decay.enabled.strength"]) if config["weight_decay"] == "enabled" else 0.0


def dropout_rates(config: Mapping[str, Any], layers: int) -> list[float]:
    """The dropout rate after each of ``layers`` hidden layers.

    ``brick`` uses the rate everywhere; ``funnel`` starts at the rate and falls linearly to
    rate / layers at the last layer (wide early layers regularized most).
    """
    if config.get("dropout") != "enabled" or layers < 1:
        return [0.0] * max(layers, 0)
    rate = float(config["dropout.enabled.rate"])
    if config.get("dropout.enabled.shape", "brick") == "funnel":
        return [rate * (layers - i) / layers for i in range(layers)]
    return [rate] * layers


def label_smoothing(config: Mapping[str, Any]) -> float:
    return float(config["label_smoothing.enabled.epsilon"]) if config["label_smoothing"] == "enabled" else 0.0


def grad_clip(config: Mapping[str, Any]) -> float | None:
    return float(config["grad_clip.enabled.max_norm"]) if config["grad_clip"] == "enabled" else None


def mixing_lambda(config: Mapping[str, Any], rng: np.random.Generator) -> float | None:
    """The mixing weight of this batch, drawn from Beta(alpha, alpha); None when mixing is off."""
    kind = config["mixing"]
    if kind == "none":
        return None
    alpha = float(config[f"mixing.{kind}.alpha"])
    return float(rng.beta(alpha, alpha))


def mixed_loss(
    logits: torch.Tensor,
    y: torch.Tensor,
    y_other: torch.Tensor | None,
    lam: float | None,
    smoothing: float,
) -> torch.Tensor:
    """Per-example cross-entropy against the mixed (and smoothed) targets."""
    loss = nn.functional.cross_entropy(logits, y, reduction="none", label_smoothing=smoothing)
    if y_other is None or lam is None:
        return loss
    other = nn.functional.cross_entropy(logits, y_other, reduction="none", label_smoothing=smoothing)
    return lam * loss + (1.0 - lam) * other


class Lookahead:
    """Lookahead (Zhang et al. 2019): every ``k`` steps, move slow weights ``alpha`` towards the fast ones.

    It wraps no optimizer: the loop calls ``step()`` after the inner optimizer's step, so the
    learning-rate schedule keeps driving the inner optimizer directly.
    """

    def __init__(self, params: Sequence[nn.Parameter], k: int, alpha: float) -> None:
        self.params = list(params)
        self.k, self.alpha = int(k), float(alpha)
        self.counter = 0
        self.slow = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def reset(self) -> None:
        """Start the slow weights again from the current ones (after the model was changed outside the loop)."""
        self.slow = [p.detach().clone() for p in self.params]
        self.counter = 0

    @torch.no_grad()
    def step(self) -> None:
        self.counter += 1
        if self.counter % self.k:
            return
        for p, slow in zip(self.params, self.slow):
            slow.add_(p.detach() - slow, alpha=self.alpha)
            p.copy_(slow)

    def state_dict(self) -> dict[str, Any]:
        return {"counter": self.counter, "slow": [s.clone() for s in self.slow]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.counter = int(state["counter"])
        for slow, saved in zip(self.slow, state["slow"]):
            slow.copy_(saved)


class SWA:
    """Stochastic weight averaging (Izmailov et al. 2018) from a fraction of the full run on.

    The average (buffers included, so batch-norm statistics need no extra pass) is taken at
    the end of every epoch from ``start`` * full epochs on, and replaces the model for
    evaluation once it holds at least one epoch.
    """

    def __init__(self, model: nn.Module, start: float, full_epochs: int) -> None:
        # The per-tensor mean on every device: torch's default on CUDA is a fused (foreach) update
        # that fails on integer buffers such as batch norm's num_batches_tracked ("Integer division
        # with addcdiv"), so SWA with batch norm failed on a GPU at its second average.
        self.average = AveragedModel(model, use_buffers=True, avg_fn=get_swa_avg_fn())
        self.first_epoch = max(1, int(np.ceil(start * full_epochs)))

    def after_epoch(self, model: nn.Module, epoch: int) -> None:
        """``epoch`` counts from 1: the number of epochs trained so far."""
        if epoch >= self.first_epoch:
            self.average.update_parameters(model)

    @property
    def ready(self) -> bool:
        return int(self.average.n_averaged) > 0

    def state_dict(self) -> dict[str, Any]:
        return self.average.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.average.load_state_dict(state)


class Snapshots:
    """Snapshot ensembling (Huang et al. 2017): the model at the end of each schedule cycle.

    The schedule restarts every cycle (see ``LRSchedule``); the ensemble averages the
    predicted probabilities of the snapshots taken so far and of the current model.
    """

    def __init__(self, boundaries: Sequence[int]) -> None:
        self.boundaries = list(boundaries)
        self.epochs: list[int] = []
        self.states: list[dict[str, torch.Tensor]] = []

    def after_epoch(self, model: nn.Module, epoch: int) -> None:
        if epoch in self.boundaries and epoch not in self.epochs:
            self.epochs.append(epoch)
            self.states.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    def members(self, model: nn.Module, current: nn.Module, epoch: int) -> list[nn.Module]:
        """The ensemble at ``epoch``: snapshots, plus ``current`` unless it is the latest snapshot."""
        out: list[nn.Module] = []
        for state in self.states:
            member = copy.deepcopy(model)
            member.load_state_dict(state)
            out.append(member)
        if not self.epochs or self.epochs[-1] != epoch or current is not model:
            out.append(current)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": list(self.epochs), "states": list(self.states)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.epochs = [int(e) for e in state["epochs"]]
        self.states = [dict(s) for s in state["states"]]


class Ensemble(nn.Module):
    """Averages the class probabilities of its members; its parameters count them all."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.softmax(m(*inputs), dim=-1) for m in self.members]).mean(0)
        return torch.log(probs.clamp_min(1e-12))  # log-probabilities: softmax of them gives probs back
