"""One model-based proposal from training data: cached hyperparameters, the GP, the acquisition, its maximum.

Shared by ``bo`` (observations at the full fidelity) and the ``model`` sampler of BOHB (the
observations of one rung), so that both fit, weigh priors and maximize the same way. Only
the functions import torch and BoTorch, on their first call.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from metaml.objectives import Objective
from metaml.optimizers.bo.encoding import Row, TrainingData, training_data
from metaml.space import Space

logger = logging.getLogger(__name__)

#: Completed observations a GP needs before it takes over from a design or a sampler.
MIN_COMPLETED = 2


@dataclass(frozen=True)
class ModelProposal:
    """The encoded point an acquisition chose, and what the proposal's reason reports about it."""

    x: np.ndarray
    acquisition: str
    #: Per objective, how many observations (a prefix) its hyperparameters were fitted on.
    anchors: list[int]
    #: The πBO weight applied (0: no prior weighting).
    prior_weight: float


def hyperparameters(
    rows: Sequence[Row], data: TrainingData, n_objectives: int, n_dims: int, refit_every: int, seed: int, cache: Any
) -> tuple[Any, list[int]]:
    """Each objective's GP hyperparameters, fitted on its anchor prefix (``model.py``), and the anchors."""
    from metaml.optimizers.bo import model as gp

    fits, anchors = [], []
    for j in range(n_objectives):
        anchor = gp.anchor_size(data.n, refit_every, j, n_objectives)
        anchor_data = training_data(rows[:anchor], data.pending, n_objectives, n_dims)
        if anchor_data.n_completed < MIN_COMPLETED:  # a prefix of failures only: fit on everything
            anchor, anchor_data = data.n, data
        fit_seed = gp.derived_seed(seed, anchor, j, 1)
        losses = anchor_data.losses[:, j : j + 1]
        key = cache.key(anchor_data.X, losses, fit_seed)
        values = cache.get(key)
        if values is None:
            try:  # looked up through the module, so that tests can make the fit fail
                values = gp.fit_hyperparameters(anchor_data.X, losses, fit_seed)
            except gp.GPFitError:
                raise
            except Exception as exc:
                raise gp.GPFitError(f"{type(exc).__name__}: {exc}") from exc
            cache.put(key, values)
        fits.append(values)
        anchors.append(anchor)
    return gp.stack_outputs(fits), anchors


def propose(
    space: Space,
    objectives: Sequence[Objective],
    rows: Sequence[Row],
    data: TrainingData,
    *,
    seed: int,
    ask_seed: int,
    rng: np.random.Generator,
    cache: Any,
    refit_every: int,
    raw_samples: int,
    num_restarts: int,
    prior_weight: float,
) -> ModelProposal:
    """The acquisition's maximum for ``data`` (``prior_weight`` > 0 turns πBO on); raises on numerical failure.

    ``seed`` seeds the hyperparameter fits (with the anchor), ``ask_seed`` the acquisition's
    quasi-MC samples and the Sobol pool, ``rng`` the pool's other draws.
    """
    import torch

    from metaml.optimizers.bo import acquisition as acq
    from metaml.optimizers.bo import model as gp

    started = time.perf_counter()
    hyper, anchors = hyperparameters(rows, data, len(objectives), space.n_dims, refit_every, seed, cache)
    fitted = time.perf_counter()
    taken = np.concatenate([data.X, data.pending])
    model_data = acq.model_subset(data, objectives)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.manual_seed(ask_seed)
        model = gp.make_gp(model_data.X, model_data.losses, hyper)
        acquisition, acq_name = acq.build_acquisition(model, model_data, objectives, ask_seed)
        if prior_weight:
            acquisition = acq.PriorWeighted(acquisition, acq.LogPrior(space), prior_weight)
        pool = acq.candidate_pool(space, model_data, rng, raw_samples, ask_seed, prior_weight > 0)
        built = time.perf_counter()
        x = acq.maximize(acquisition, space, pool, taken, num_restarts)
    for w in caught:  # BoTorch's numerical notes (jitter added, input scaling): diagnostics, not errors
        logger.debug("bo: %s: %s", w.category.__name__, w.message)
    logger.debug(
        "model-based proposal at %d observations: hyperparameters %.3f s, model and pool %.3f s, maximization %.3f s",
        data.n, fitted - started, built - fitted, time.perf_counter() - built,
    )
    return ModelProposal(x=x, acquisition=acq_name, anchors=anchors, prior_weight=prior_weight)
