"""The study history as training data for a Gaussian process: inputs, losses, pending points.

Which trials teach the model, and how:

* **completed** trials at the full fidelity (every completed trial when the space has no
  fidelity) are observations: their configuration through ``space.encode``, and each
  objective as a *loss* ``objective.sign * value`` (lower is better). Trials at a lower
  fidelity measure a different function and are left out.
* **failed** trials (the function raised, returned NaN, ran out of memory) are observations
  too, imputed as the worst loss seen so far for each objective: a configuration that
  crashes is as bad as the worst one that runs, and telling the model so keeps it from
  proposing the same region again. A completed trial whose metrics lack an objective or are
  not finite counts as failed.
* **pending** and **running** trials are points under evaluation: they go to the
  acquisition function as ``X_pending`` so that parallel workers get distinct proposals.
  With ``pending_from``, every trial numbered from there on counts as pending whatever its
  state, so that a decision does not depend on which of them happen to have finished.
* **pruned** and **lost** trials say nothing about the full-fidelity value and are ignored.

The encoding is ``space.encode``'s: numeric parameters in [0, 1] (log-scaled where
declared), one-hot blocks for categoricals, inactive numeric parameters at 0.5 and inactive
categoricals all zeros. See ``model.py`` for why the GP works on it directly.

Rows are kept in trial-number order, so that the first ``m`` rows are a well-defined
prefix of the study (``model.py`` fits hyperparameters on such prefixes).
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from metaml.core.records import TrialRecord, TrialStatus
from metaml.objectives import Objective
from metaml.space import Space

logger = logging.getLogger(__name__)

_PENDING = (TrialStatus.PENDING, TrialStatus.RUNNING)


@dataclass(frozen=True)
class Row:
    """One observation before imputation: its encoding and losses (None for a failed trial)."""

    number: int
    x: np.ndarray
    losses: np.ndarray | None


@dataclass(frozen=True)
class TrainingData:
    """What the model learns from and what the acquisition must avoid.

    ``X`` is ``n x d`` in the unit cube, ``losses`` ``n x m`` (lower is better, failed rows
    imputed), ``pending`` ``p x d``.
    """

    X: np.ndarray
    losses: np.ndarray
    pending: np.ndarray
    n_completed: int
    n_failed: int

    @property
    def n(self) -> int:
        return int(self.X.shape[0])


def collect_rows(
    space: Space,
    objectives: Sequence[Objective],
    history: Sequence[TrialRecord],
    full_fidelity: float | None,
    pending_from: int | None = None,
) -> tuple[list[Row], np.ndarray]:
    """The usable rows (trial-number order) and the encoded pending configurations."""
    rows: list[Row] = []
    pending: list[np.ndarray] = []
    for record in sorted(history, key=lambda r: r.number):
        if record.status in _PENDING or (pending_from is not None and record.number >= pending_from):
            x = _encode(space, record)
            if x is not None:
                pending.append(x)
            continue
        if record.status not in (TrialStatus.COMPLETED, TrialStatus.FAILED):
            continue
        if full_fidelity is not None and (record.fidelity is None or float(record.fidelity) != float(full_fidelity)):
            continue
        x = _encode(space, record)
        if x is None:
            continue
        losses = _losses(objectives, record) if record.status is TrialStatus.COMPLETED else None
        rows.append(Row(record.number, x, losses))
    pending_array = np.stack(pending) if pending else np.zeros((0, space.n_dims))
    return rows, pending_array


def training_data(rows: Sequence[Row], pending: np.ndarray, n_objectives: int, n_dims: int) -> TrainingData:
    """Stack ``rows`` into arrays, imputing failed rows as the worst loss among these rows.

    The imputation looks only at ``rows``, so that the training data of a prefix of the
    study does not change when later trials finish (see ``model.py``). Without any
    completed row there is nothing to impute from, and failed rows are dropped.
    """
    done = [r.losses for r in rows if r.losses is not None]
    if not done:
        return TrainingData(
            np.zeros((0, n_dims)), np.zeros((0, n_objectives)), pending, n_completed=0, n_failed=0
        )
    worst = np.max(np.stack(done), axis=0)
    X = np.stack([r.x for r in rows])
    losses = np.stack([worst if r.losses is None else r.losses for r in rows])
    return TrainingData(X, losses, pending, n_completed=len(done), n_failed=len(rows) - len(done))


def _encode(space: Space, record: TrialRecord) -> np.ndarray | None:
    try:
        return space.encode(record.config)
    except (KeyError, ValueError, TypeError) as exc:  # a config the space no longer holds
        logger.debug("trial %d left out of the model: its configuration does not encode (%s)", record.number, exc)
        return None


def _losses(objectives: Sequence[Objective], record: TrialRecord) -> np.ndarray | None:
    """The trial's losses, or None when an objective is missing or not finite (then it counts as failed)."""
    metrics = record.metrics or {}
    out = np.empty(len(objectives))
    for j, objective in enumerate(objectives):
        value = metrics.get(objective.name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return None
        out[j] = objective.sign * float(value)
    return out
