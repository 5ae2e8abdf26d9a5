"""NePS (neural-pipeline-search) through its ``AskAndTell`` wrapper: Hyperband, PriorBand, GP-BO.

A NePS trial that promotes a configuration names the trial it comes from
(``metadata.previous_trial_id``); in ``neps.run`` that is ``previous_pipeline_directory``,
where the user's code finds the checkpoint to continue. So a promotion continues the
runner's evaluation of that earlier trial and pays only the new epochs.

NePS draws from the global ``random``, NumPy and torch generators (it takes no seed), so
the adapter seeds all three when it is built; the runner is sequential, so a run is
reproducible. NePS pins old gpytorch/botorch/pandas: it lives in ``.venv-peers``
(``bash benchmarks/peers/make_venv_neps.sh``).
"""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np

from benchmarks.peers.base import Peer, Request
from benchmarks.peers.spaces import fidelity_range, neps_space, to_metaml
from benchmarks.problems.base import Problem
from metaml.core.records import TrialRecord


class _NePS(Peer):
    requires = ("neps",)
    distributions = ("neural-pipeline-search", "torch", "botorch", "gpytorch")
    install = "bash benchmarks/peers/make_venv_neps.sh  # neural-pipeline-search==0.17.0 in .venv-peers"
    continues = True
    charging = "a promotion continues the trial NePS names as previous (previous_pipeline_directory): charged the new epochs"
    algorithm = ""

    def __init__(self, problem: Problem, seed: int, budget_fte: float) -> None:
        super().__init__(problem, seed, budget_fte)
        import neps
        import torch
        from neps.optimizers import algorithms

        logging.getLogger("neps").setLevel(logging.ERROR)
        random.seed(self.seed)
        np.random.seed(self.seed)  # NePS reads the global generators
        torch.manual_seed(self.seed)
        self.space = neps_space(problem.space)
        self.resolved = self._resolve(algorithms)
        optimizer = algorithms.PredefinedOptimizers[self.resolved](self.space, **self._kwargs())
        self.at = neps.AskAndTell(optimizer)
        self.fidelity_name = fidelity_range(problem.space)[2]
        self._numbers: dict[str, int] = {}  # NePS trial id -> the runner's evaluation number
        self._trial: Any = None

    def _resolve(self, algorithms: Any) -> str:
        return self.algorithm

    def _kwargs(self) -> dict[str, Any]:
        return {}

    @property
    def settings(self) -> dict[str, Any]:
        return {"algorithm": self.resolved, **self._kwargs()}

    def ask(self) -> Request | None:
        self._trial = self.at.ask()
        config = dict(self._trial.config)
        fidelity = float(config.pop(self.fidelity_name, self.f_max))
        previous = self._trial.metadata.previous_trial_id
        parent = self._numbers.get(previous) if previous is not None else None
        return Request(to_metaml(self.problem.space, config), fidelity, parent,
                       {"neps_id": self._trial.id, "neps_previous": previous})

    def tell(self, request: Request, record: TrialRecord) -> None:
        self._numbers[self._trial.id] = record.number
        self.at.tell(self._trial, self.losses(record) if self.multi_objective else self.loss(record))
        self._trial = None


class NePSDefault(_NePS):
    """What ``neps.run(optimizer="auto")`` picks for the space: Hyperband with a fidelity and no priors."""

    name = "neps-default"

    def _resolve(self, algorithms: Any) -> str:
        return str(algorithms.determine_optimizer_automatically(self.space))


class NePSHyperband(_NePS):
    name = "neps-hyperband"
    algorithm = "hyperband"


class NePSPriorBand(_NePS):
    """PriorBand; without priors in the space it samples uniformly and from the incumbent (NePS warns)."""

    name = "neps-priorband"
    algorithm = "priorband"


class NePSMOHyperband(_NePS):
    """NePS's multi-objective Hyperband (promotions by the same selection as its MOASHA, eps-net)."""

    name = "neps-mo-hyperband"
    algorithm = "mo_hyperband"
    multi_objective = True


class NePSBO(_NePS):
    """GP-based BO at full fidelity (``ignore_fidelity``): seconds per proposal; time-boxed by the runner."""

    name = "neps-bo"
    algorithm = "bayesian_optimization"
    charging = "every evaluation is a full run (BO ignores the fidelity): charged 1 FTE each"
    continues = False
    slow = True

    def _kwargs(self) -> dict[str, Any]:
        return {"ignore_fidelity": True}
