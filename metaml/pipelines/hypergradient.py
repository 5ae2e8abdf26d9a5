"""Hypergradient descent on the learning rate, inside one training run (Baydin et al. 2018).

The loss after a step depends on the learning rate of that step through the update it
made: with ``d`` the update per unit of learning rate (``(θ_t - θ_{t-1}) / α``), the
derivative of the next loss with respect to the learning rate is ``∇f(θ_t) · d``. Any
torch optimizer whose step is linear in its learning rate (SGD with momentum, Adam, AdamW
with decoupled decay) therefore gets the hypergradient from two things it already has:
the current gradient and the last update.

Robust by construction, because hypergradients are known to explode:

- the update is multiplicative and normalized (``scale *= 1 - beta * cos(∇f, d)``), so one
  step changes the learning rate by at most a factor ``1 ± beta``, whatever the gradient's size;
- the learned factor on the schedule's learning rate stays within ``[1/RANGE, RANGE]``;
- a non-finite hypergradient stops the adaptation for the rest of the run (logged and
  recorded in the checkpoint); training goes on with the last finite value.

The state (factor, last update, whether it stopped) is checkpointed with the run, so a
promoted trial continues exactly where it stopped and the prefix invariant holds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

log = logging.getLogger(__name__)

#: The learned factor on the schedule's learning rate stays within [1 / RANGE, RANGE].
RANGE = 100.0
#: The hyper-learning rate when the config does not name one.
DEFAULT_BETA = 0.02


class HypergradientLR:
    """A learned factor on the schedule's learning rate, updated before every optimizer step.

    Use per step: ``observe(params)`` after ``backward`` (the gradient at the current point),
    ``lr = base_lr * scale`` for the step, ``remember(params, before, lr)`` after it.
    """

    def __init__(self, beta: float = DEFAULT_BETA) -> None:
        if not 0 < beta < 1:
            raise ValueError(f"the hypergradient's beta must lie in (0, 1), got {beta}")
        self.beta = float(beta)
        self.scale = 1.0
        self.stopped: str | None = None
        self.last_update: list[torch.Tensor] | None = None
        self.last_hypergradient: float | None = None

    @staticmethod
    def hypergradient(grads: Sequence[torch.Tensor], update: Sequence[torch.Tensor]) -> float:
        """``∂ f(θ_t) / ∂ α_{t-1}``: the current gradient dotted with the last update per unit learning rate."""
        return float(sum((g.double() * d.double()).sum() for g, d in zip(grads, update, strict=True)))

    def observe(self, params: Sequence[torch.nn.Parameter]) -> float:
        """Update the factor from the gradients now in ``params``; return the factor for this step."""
        if self.stopped is not None or self.last_update is None:
            return self.scale
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        h = self.hypergradient(grads, self.last_update)
        norm = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads)) * math.sqrt(
            sum(float(d.double().pow(2).sum()) for d in self.last_update)
        )
        self.last_hypergradient = h
        if not (math.isfinite(h) and math.isfinite(norm)):
            self.stopped = f"the hypergradient became {h} (gradient or update not finite)"
            log.warning("hypergradient adaptation stopped: %s; the learning rate stays at factor %.4g",
                        self.stopped, self.scale)  # fmt: skip
            return self.scale
        if norm > 0:
            cosine = max(-1.0, min(1.0, h / norm))
            # descent on α: a positive ∇f·d means the last step went too far, so shrink
            self.scale = min(RANGE, max(1.0 / RANGE, self.scale * (1.0 - self.beta * cosine)))
        return self.scale

    @torch.no_grad()
    def remember(self, params: Sequence[torch.nn.Parameter], before: Sequence[torch.Tensor], lr: float) -> None:
        """Keep the step just taken, per unit learning rate, for the next hypergradient."""
        if self.stopped is not None:
            self.last_update = None
            return
        if lr <= 0:
            return
        self.last_update = [(p.detach() - b) / lr for p, b in zip(params, before, strict=True)]

    def state_dict(self) -> dict[str, Any]:
        return {
            "beta": self.beta, "scale": self.scale, "stopped": self.stopped,
            "last_update": None if self.last_update is None else [d.clone() for d in self.last_update],
        }  # fmt: skip

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.beta = float(state["beta"])
        self.scale = float(state["scale"])
        self.stopped = state["stopped"]
        last = state["last_update"]
        self.last_update = None if last is None else [torch.as_tensor(d) for d in last]


def from_config(config: Mapping[str, Any]) -> HypergradientLR | None:
    """The adaptation the config switches on (``hypergradient: enabled``), else None."""
    if config.get("hypergradient", "disabled") != "enabled":
        return None
    return HypergradientLR(float(config.get("hypergradient.enabled.beta", DEFAULT_BETA)))


def learned_lr(config: Mapping[str, Any], curve: Sequence[Mapping[str, Any]]) -> float:
    """The base learning rate a run learned (the config's ``lr`` times its last factor): a later study's prior.

    Without adaptation the factor is 1 and this is the config's ``lr``.
    """
    factors = [float(p["lr_scale"]) for p in curve if "lr_scale" in p and math.isfinite(float(p["lr_scale"]))]
    return float(config["lr"]) * (factors[-1] if factors else 1.0)
