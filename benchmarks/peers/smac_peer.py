"""SMAC3 through its ask-and-tell interface: the multi-fidelity facade (BOHB-like) and Hyperband.

SMAC's target function gets ``(config, seed, budget)`` and nothing about earlier runs of
the same configuration, so an intensifier's promotion retrains from scratch: every request
is charged its whole (rounded) budget.
"""

from __future__ import annotations

import logging
from typing import Any

from benchmarks.peers.base import Peer, Request
from benchmarks.peers.spaces import configspace, to_metaml
from benchmarks.problems.base import Problem
from metaml.core.records import TrialRecord


class _SMAC(Peer):
    requires = ("smac", "ConfigSpace")
    distributions = ("smac", "ConfigSpace", "scikit-learn")  # SMAC 2.4's random forest is scikit-learn's
    install = "pip install 'smac==2.4.1'"
    facade_name = ""
    #: Hyperband-style budgets (the MF and HB facades); False: every trial at full fidelity.
    multi_fidelity = True

    def __init__(self, problem: Problem, seed: int, budget_fte: float, eta: int = 3) -> None:
        super().__init__(problem, seed, budget_fte)
        from smac import Scenario

        for name in ("smac", "ConfigSpace"):
            logging.getLogger(name).setLevel(logging.ERROR)
        self.eta = int(eta)
        objectives = [o.name for o in problem.objectives] if self.multi_objective else "cost"
        budgets: dict[str, Any] = {"min_budget": self.f_min, "max_budget": self.f_max} if self.multi_fidelity else {}
        self.scenario = Scenario(
            configspace(problem.space, seed), deterministic=True, n_trials=10_000_000, objectives=objectives,
            seed=self.seed, output_directory=self.workdir / "smac3_output", **budgets,
        )
        facade = self._facade()
        extra: dict[str, Any] = {}
        if self.multi_objective:
            from smac.multi_objective.parego import ParEGO

            extra["multi_objective_algorithm"] = ParEGO(self.scenario, seed=self.seed)
        intensifier = (facade.get_intensifier(self.scenario, eta=self.eta) if self.multi_fidelity
                       else facade.get_intensifier(self.scenario, max_config_calls=1))
        self.smac = facade(
            self.scenario, target_function=_never_called, intensifier=intensifier,
            overwrite=True, logging_level=logging.ERROR, **extra,
        )
        self._info: Any = None

    def _facade(self) -> Any:
        raise NotImplementedError

    @property
    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"facade": self.facade_name}
        if self.multi_fidelity:
            out.update(eta=self.eta, min_budget=self.f_min, max_budget=self.f_max)
        return {**out, "multi_objective_algorithm": "ParEGO"} if self.multi_objective else out

    def ask(self) -> Request | None:
        self._info = self.smac.ask()
        config = to_metaml(self.problem.space, dict(self._info.config))
        budget = self.f_max if self._info.budget is None else float(self._info.budget)
        return Request(config, budget, None, {"smac_budget": budget})

    def tell(self, request: Request, record: TrialRecord) -> None:
        from smac.runhistory.dataclasses import TrialValue

        cost = self.losses(record) if self.multi_objective else self.loss(record)
        self.smac.tell(self._info, TrialValue(cost=cost, time=float(record.cost_fte or 0.0)))


def _never_called(config: Any, seed: int = 0, budget: float = 0.0) -> float:
    raise RuntimeError("the benchmark runner evaluates SMAC's trials through ask/tell")


class SMACMultiFidelity(_SMAC):
    """``MultiFidelityFacade``: Hyperband with a random-forest model proposing new configurations."""

    name = "smac-mf"
    facade_name = "MultiFidelityFacade"
    slow = True

    def _facade(self) -> Any:
        from smac import MultiFidelityFacade

        return MultiFidelityFacade


class SMACHyperband(_SMAC):
    """``HyperbandFacade``: Hyperband with random configurations."""

    name = "smac-hb"
    facade_name = "HyperbandFacade"

    def _facade(self) -> Any:
        from smac import HyperbandFacade

        return HyperbandFacade


class SMACMultiObjective(_SMAC):
    """``HyperparameterOptimizationFacade`` with ``ParEGO`` (random Chebyshev scalarizations), full fidelity.

    SMAC 2.4.1's successive-halving intensifier fails an assertion on its first
    multi-objective incumbent update (``update_incumbents``), so the multi-fidelity facade
    cannot run ParEGO here: the HPO facade (random forest, one full run per trial) can.
    """

    name = "smac-mo-parego"
    facade_name = "HyperparameterOptimizationFacade"
    multi_objective = True
    multi_fidelity = False
    slow = True

    def _facade(self) -> Any:
        from smac import HyperparameterOptimizationFacade

        return HyperparameterOptimizationFacade
