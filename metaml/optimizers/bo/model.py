"""The Gaussian process: hyperparameters fitted on a prefix of the study, conditioned on all of it.

**Kernel and inputs.** BoTorch's ``SingleTaskGP`` on ``space.encode``'s unit cube, with its
default ARD RBF kernel whose log-normal lengthscale prior scales with the dimension
(Hvarfner et al. 2024, "Vanilla BO in high dimensions"), so a 30-column one-hot-heavy
encoding is not over-fitted from ten points; outcomes are standardized (``Standardize``).
Categoricals stay one-hot: each choice gets its own lengthscale, so the kernel learns
which choices differ and which behave alike, and the columns need no index ordering.
Inactive numeric parameters sit at 0.5 and inactive categoricals at zeros (the
"imputation" treatment of conditional spaces, Lévesque et al. 2017): points of different
branches are already told apart by the parent's one-hot columns, and within a branch every
point shares the same imputed value, so it adds no spurious variation. Several objectives
share the inputs and get independent outputs (a batched GP).

**Refit and determinism.** Fitting the hyperparameters (type-II maximum likelihood, scipy
L-BFGS-B, at most ``MAXITER`` iterations from BoTorch's fixed initial values) is the
expensive step, so it runs only every ``refit_every`` observations: with ``n``
observations, the hyperparameters are those fitted on the *anchor*, the first
``n - n % refit_every`` observations in trial-number order (failed ones imputed within the
anchor), and the GP is then conditioned on all ``n``. Several objectives take turns (see
``anchor_size``), so that past the first turns no ask fits more than one GP. The anchor is
a function of the history alone and the fit a deterministic function of the anchor (same
start values, torch RNG seeded from the study seed and the anchor size for BoTorch's
retries), so a fresh optimizer recomputes exactly what a warm one takes from its cache: the
cache is keyed by a digest of the anchor data and can only save time, never change a
proposal.

Fits do not warm-start from the previous anchor's hyperparameters: that would make them
depend on the whole chain of earlier fits, which a resumed study would have to replay, and
measured on the latency benchmark it saved only about a fifth of the likelihood evaluations
to convergence (59-68 instead of 70-84). Above ``MAX_FIT_POINTS`` anchor observations the
fit uses an evenly spaced subset (hyperparameters settle long before that), while the GP
still conditions on every point (up to ``acquisition.MAX_MODEL_POINTS``).
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood

logger = logging.getLogger(__name__)

DTYPE = torch.float64
#: L-BFGS-B iterations per hyperparameter fit: enough to converge on a few hundred points,
#: bounded so that a refit stays within the latency budget.
MAXITER = 50
#: Largest number of observations a hyperparameter fit uses (evenly spaced when there are more).
MAX_FIT_POINTS = 100
#: How many (objective, anchor) hyperparameter sets one optimizer keeps.
CACHE_SIZE = 8


class GPFitError(RuntimeError):
    """The marginal-likelihood fit failed numerically (not positive definite, NaN, no convergence)."""


@dataclass(frozen=True)
class Hyperparameters:
    """Fitted GP parameters (raw, as gpytorch stores them) and the anchor they came from."""

    values: dict[str, torch.Tensor]
    anchor: int


def anchor_size(n: int, refit_every: int, turn: int = 0, turns: int = 1) -> int:
    """How many observations (a prefix) objective ``turn`` of ``turns`` has its hyperparameters fitted on.

    One objective: the last multiple of ``refit_every`` (all ``n`` before the first).
    Several take turns, one per multiple, so that an ask refits at most one GP: objective
    ``j`` is refitted at the multiples ``a`` with ``(a // refit_every) % turns == j``, and
    before its first turn at every multiple, as a single objective is.
    """
    last = n - n % refit_every
    if last < refit_every:
        return n
    period = refit_every * turns
    own = n - (n - turn * refit_every) % period if n >= turn * refit_every else 0
    return own if own >= refit_every else last


def derived_seed(*parts: int) -> int:
    """A 63-bit seed derived from integers, for torch generators."""
    return int(np.random.SeedSequence([abs(int(p)) for p in parts]).generate_state(2, dtype=np.uint64)[0] >> 1)


def make_gp(X: np.ndarray, losses: np.ndarray, values: dict[str, torch.Tensor] | None = None) -> SingleTaskGP:
    """A GP on ``X`` that maximizes ``-losses``; with ``values`` its hyperparameters are set, not fitted."""
    train_X = torch.as_tensor(X, dtype=DTYPE)
    train_Y = -torch.as_tensor(losses, dtype=DTYPE)
    model = SingleTaskGP(train_X, train_Y, outcome_transform=Standardize(m=train_Y.shape[-1]))
    if values is not None:
        model.load_state_dict(values, strict=False)
        model.eval()
    return model


def stack_outputs(fits: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Single-output hyperparameters stacked into the layout of one batched multi-output GP.

    Objectives are fitted one by one (BoTorch's batched fit of independent outputs took 2.7
    times as long as separate fits here), and the acquisition uses the batched GP.
    """
    if len(fits) == 1:
        return fits[0]
    return {name: torch.stack([fit[name] for fit in fits]) for name in fits[0]}


def fit_hyperparameters(X: np.ndarray, losses: np.ndarray, seed: int) -> dict[str, torch.Tensor]:
    """Maximum-likelihood hyperparameters of a one-output GP on (X, losses ``n x 1``); raises GPFitError."""
    if len(X) > MAX_FIT_POINTS:
        keep = np.unique(np.round(np.linspace(0, len(X) - 1, MAX_FIT_POINTS)).astype(int))
        X, losses = X[keep], losses[keep]
    model = make_gp(X, losses)
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    try:
        with torch.random.fork_rng(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.manual_seed(seed)
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": MAXITER}}, max_attempts=3)
    except Exception as exc:  # any numerical failure becomes the one error the optimizer handles
        raise GPFitError(f"{type(exc).__name__}: {exc}") from exc
    for w in caught:
        logger.debug("GP fit: %s", w.message)
    values = {name: p.detach().clone() for name, p in model.named_parameters()}
    if mll.training:
        raise GPFitError("no fit attempt converged")
    if not all(bool(torch.isfinite(v).all()) for v in values.values()):
        raise GPFitError("hyperparameters are not finite")
    return values


class HyperparameterCache:
    """Hyperparameters by anchor digest: a pure time saver (see the module docstring)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[str, dict[str, torch.Tensor]] = OrderedDict()

    @staticmethod
    def key(X: np.ndarray, losses: np.ndarray, seed: int) -> str:
        digest = hashlib.sha1()
        for array in (X, losses):
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
            digest.update(str(array.shape).encode())
        digest.update(str(seed).encode())
        return digest.hexdigest()

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        return None

    def put(self, key: str, values: dict[str, torch.Tensor]) -> None:
        self._entries[key] = values
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
