"""Optuna through its ask-and-tell interface: TPE, random search, and TPE with the Hyperband pruner.

Without a pruner every Optuna trial is one full training run. With ``HyperbandPruner`` the
trial is Optuna's usual pruning-style loop, one run per configuration that reports after
each epoch and stops when ``should_prune()`` says so; the runner sees one evaluation per
epoch, each continuing the last, and so charges the epochs the run really trained.
"""

from __future__ import annotations

from typing import Any

from benchmarks.peers.base import Peer, PerEpochRun, Request
from benchmarks.peers.spaces import suggest_optuna, to_metaml
from benchmarks.problems.base import Problem
from metaml.core.records import TrialRecord


def _quiet() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


class OptunaFull(Peer):
    """Optuna with a sampler and no pruner: each trial trains the full fidelity."""

    requires = ("optuna",)
    distributions = ("optuna",)
    install = "pip install 'optuna==5.0.0'"
    sampler_name = "tpe"

    def __init__(self, problem: Problem, seed: int, budget_fte: float) -> None:
        super().__init__(problem, seed, budget_fte)
        import optuna

        _quiet()
        n = len(problem.objectives) if self.multi_objective else 1
        self.study = optuna.create_study(directions=["minimize"] * n, sampler=self._sampler())
        self._trial: Any = None

    def _sampler(self) -> Any:
        import optuna

        return optuna.samplers.TPESampler(seed=self.seed)

    @property
    def settings(self) -> dict[str, Any]:
        return {"sampler": type(self.study.sampler).__name__, "pruner": None}

    def ask(self) -> Request | None:
        self._trial = self.study.ask()
        config = to_metaml(self.problem.space, suggest_optuna(self.problem.space, self._trial))
        return Request(config, self.f_max, None, {"optuna_trial": self._trial.number})

    def tell(self, request: Request, record: TrialRecord) -> None:
        self.study.tell(self._trial, self.losses(record) if self.multi_objective else self.loss(record))


class OptunaTPE(OptunaFull):
    name = "optuna-tpe"


class OptunaRandom(OptunaFull):
    name = "optuna-random"
    sampler_name = "random"

    def _sampler(self) -> Any:
        import optuna

        return optuna.samplers.RandomSampler(seed=self.seed)


class OptunaMOTPE(OptunaFull):
    """Multi-objective TPE (MOTPE) at full fidelity: every objective, one full run per trial."""

    name = "optuna-mo-tpe"
    multi_objective = True


class OptunaNSGA2(OptunaFull):
    """NSGA-II (Optuna's default multi-objective sampler) at full fidelity."""

    name = "optuna-nsga2"
    sampler_name = "nsga2"
    multi_objective = True

    def _sampler(self) -> Any:
        import optuna

        return optuna.samplers.NSGAIISampler(seed=self.seed)


class OptunaTPEHyperband(Peer):
    """TPE with ``HyperbandPruner`` (eta 3): pruning-style runs that report every epoch."""

    name = "optuna-tpe-hb"
    requires = ("optuna",)
    distributions = ("optuna",)
    install = "pip install 'optuna==5.0.0'"
    continues = True
    charging = "one run per configuration reporting each epoch: charged one epoch per reported step, until pruned"

    def __init__(self, problem: Problem, seed: int, budget_fte: float, reduction_factor: int = 3) -> None:
        super().__init__(problem, seed, budget_fte)
        import optuna

        _quiet()
        self.reduction_factor = reduction_factor
        self.study = optuna.create_study(
            direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=self.seed),
            pruner=optuna.pruners.HyperbandPruner(
                min_resource=int(self.f_min), max_resource=int(self.f_max), reduction_factor=reduction_factor),
        )
        self._run: PerEpochRun | None = None

    @property
    def settings(self) -> dict[str, Any]:
        return {"sampler": "TPESampler", "pruner": "HyperbandPruner", "reduction_factor": self.reduction_factor,
                "min_resource": int(self.f_min), "max_resource": int(self.f_max)}

    def ask(self) -> Request | None:
        if self._run is None:
            trial = self.study.ask()
            config = to_metaml(self.problem.space, suggest_optuna(self.problem.space, trial))
            self._run = PerEpochRun(config, trial, self.f_min)
        return self._run.request({"optuna_trial": self._run.handle.number})

    def tell(self, request: Request, record: TrialRecord) -> None:
        import optuna

        run = self._run
        assert run is not None
        value, step = self.loss(record), int(round(float(record.end_step or 0.0)))
        run.last = record.number
        if step >= int(self.f_max):
            self.study.tell(run.handle, value)
            self._run = None
            return
        run.handle.report(value, step)
        if run.handle.should_prune():
            self.study.tell(run.handle, state=optuna.trial.TrialState.PRUNED)
            self._run = None
            return
        run.epoch = step + 1.0
