"""How a one-shot search is going: the signs of DARTS' known failure modes, measured every epoch.

Three signs, each from the literature on why DARTS collapses:

- the **dominant eigenvalue of the architecture Hessian** (Zela et al. 2020, "Understanding
  and robustifying differentiable architecture search"): it grows as the search heads for a
  sharp region where the derived architecture performs badly; measured by power iteration
  on Hessian-vector products of the architecture loss;
- the **share of parameter-free operations** (Chen & Hsieh 2020; Zela et al.): the identity
  wins the depth mixtures because it helps the supernet train, not because the network
  would be better without the layer;
- the **validation error diverging**: the relaxed supernet's error well above its best.

``Health.check`` turns an epoch's signs into a reason to stop the architecture updates (the
DARTS-ES remedy: the architecture weights of the epoch before the sign are kept, the
weights train on), or None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

#: Stop when the eigenvalue exceeds the mean of the previous WINDOW epochs by this factor (DARTS-ES uses 1/0.75).
EIGENVALUE_RATIO = 1.3
#: Epochs the eigenvalue is averaged over.
WINDOW = 2
#: A share of identity weight above this, risen for two epochs in a row, is a collapse.
PARAMETER_FREE_SHARE = 0.6
#: The relaxed validation error this far above its best (in error, 0..1) is divergence.
DIVERGENCE = 0.2
#: Power-iteration steps for the dominant eigenvalue.
POWER_STEPS = 8


def dominant_eigenvalue(
    loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], steps: int = POWER_STEPS, seed: int = 0
) -> float:
    """The largest-magnitude eigenvalue of the Hessian of ``loss_fn()`` in ``params``, by power iteration.

    Each step is one Hessian-vector product (double backward), so the Hessian is never formed.
    """
    params = [p for p in params if p.numel() > 0]
    if not params:
        return 0.0
    loss = loss_fn()
    grads = torch.autograd.grad(loss, params, create_graph=True)
    generator = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=generator).to(p.device, p.dtype) for p in params]
    value = 0.0
    for _ in range(steps):
        norm = math.sqrt(sum(float((x * x).sum()) for x in v))
        if norm == 0 or not math.isfinite(norm):
            return float("nan") if not math.isfinite(norm) else 0.0
        v = [x / norm for x in v]
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        value = float(sum((a * b).sum() for a, b in zip(hv, v, strict=True)))  # Rayleigh quotient
        v = [h.detach() for h in hv]
    return value


@dataclass
class Health:
    """The signs seen so far and whether (and why) the architecture updates were stopped."""

    eigenvalues: list[float] = field(default_factory=list)
    shares: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    stopped_at: int | None = None
    reason: str | None = None

    def check(self, epoch: int, eigenvalue: float, share: float, error: float) -> str | None:
        """Record an epoch's signs; return why the architecture should stop now (None: go on)."""
        self.eigenvalues.append(eigenvalue)
        self.shares.append(share)
        self.errors.append(error)
        if not math.isfinite(eigenvalue) or not math.isfinite(error):
            return f"epoch {epoch}: the architecture loss or its curvature is not finite"
        if len(self.eigenvalues) > WINDOW:
            before = self.eigenvalues[-WINDOW - 1 : -1]
            mean = sum(before) / len(before)
            if mean > 0 and eigenvalue > EIGENVALUE_RATIO * mean:
                return (f"epoch {epoch}: the architecture Hessian's dominant eigenvalue rose to {eigenvalue:.3g}, "
                        f"{eigenvalue / mean:.2f}x its mean of the {WINDOW} epochs before")  # fmt: skip
        if len(self.shares) >= 3 and share > PARAMETER_FREE_SHARE and self.shares[-3] < self.shares[-2] < share:
            return f"epoch {epoch}: parameter-free operations hold {share:.0%} of the depth weights and rising"
        if error > min(self.errors) + DIVERGENCE:
            return f"epoch {epoch}: the validation error {error:.3f} is {error - min(self.errors):.3f} above its best"
        return None

    def stop(self, epoch: int, reason: str) -> None:
        self.stopped_at, self.reason = epoch, reason

    def state_dict(self) -> dict[str, Any]:
        return {"eigenvalues": list(self.eigenvalues), "shares": list(self.shares), "errors": list(self.errors),
                "stopped_at": self.stopped_at, "reason": self.reason}  # fmt: skip

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.eigenvalues = [float(v) for v in state["eigenvalues"]]
        self.shares = [float(v) for v in state["shares"]]
        self.errors = [float(v) for v in state["errors"]]
        self.stopped_at = None if state["stopped_at"] is None else int(state["stopped_at"])
        self.reason = state["reason"]
