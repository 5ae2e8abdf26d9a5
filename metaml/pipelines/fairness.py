"""In-training fairness interventions, offered as one more choice of the space when data has a sensitive attribute.

A search against error *and* a fairness gap needs pipelines that differ in fairness, not
only in accuracy; these choices give it a direct lever, tuned jointly with the rest:

- ``reweighing`` (Kamiran & Calders 2012): each training row weighs
  ``P(group) P(label) / P(group, label)``, so that group and label look independent;
- ``penalty``: adds ``weight`` times the batch's demographic-parity gap, the largest
  difference between groups in the mean predicted probability of the positive class
  (a differentiable stand-in for the metric; Zafar et al. 2017 constrain the same quantity).

Under mixup a mixed row counts in the group of its first example.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from metaml.space import Categorical, Float, Parameter

FAIRNESS_DEFAULTS: dict[str, Any] = {"fairness": "none", "fairness.penalty.weight": 1.0}


def fairness_parameters() -> dict[str, Parameter]:
    return {"fairness": Categorical({"none": {}, "reweighing": {}, "penalty": {"weight": Float(0.01, 10.0, log=True)}})}


def group_codes(groups: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes of the sensitive groups and their sorted names."""
    names, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    return codes.astype(np.int64), tuple(str(n) for n in names)


def reweighing_weights(groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Kamiran & Calders' weight per row: expected over observed frequency of its (group, label) cell."""
    codes, _ = group_codes(groups)
    labels = np.asarray(labels, dtype=np.int64)
    n = float(len(labels))
    weights = np.empty(len(labels), dtype=np.float64)
    for g in np.unique(codes):
        for y in np.unique(labels):
            cell = (codes == g) & (labels == y)
            if cell.any():
                weights[cell] = (np.mean(codes == g) * np.mean(labels == y)) / (cell.sum() / n)
    return weights


def parity_penalty(codes: torch.Tensor, weight: float, positive: int = 1) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A loss term: ``weight`` times the batch's largest between-group gap in P(positive class)."""
    n_groups = int(codes.max()) + 1 if codes.numel() else 1

    def penalty(logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        p = torch.softmax(logits, dim=-1)[:, positive]
        g = codes[rows]
        sums = torch.zeros(n_groups, dtype=p.dtype, device=p.device).index_add(0, g, p)
        counts = torch.bincount(g, minlength=n_groups)
        present = counts > 0
        if int(present.sum()) < 2:
            return p.sum() * 0.0
        rates = sums[present] / counts[present].to(p.dtype)
        return weight * (rates.max() - rates.min())

    return penalty


def fairness_hooks(
    config: Mapping[str, Any],
    groups: np.ndarray | None,
    labels: np.ndarray,
    device: torch.device,
    positive: int = 1,
) -> tuple[torch.Tensor | None, Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None]:
    """(sample weights, loss penalty) for the training rows, as the config's fairness choice asks."""
    choice = config.get("fairness", "none")
    if choice == "none" or groups is None:
        return None, None
    if choice == "reweighing":
        return torch.tensor(reweighing_weights(groups, labels), dtype=torch.float32), None
    codes, _ = group_codes(groups)
    return None, parity_penalty(torch.from_numpy(codes).to(device), float(config["fairness.penalty.weight"]), positive)
