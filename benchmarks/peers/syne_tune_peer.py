"""Syne Tune's ASHA and BOHB schedulers, driven as its ``Tuner`` drives them, one epoch at a time.

Syne Tune 0.16's ASHA is the stopping kind: each trial is one training run that reports
after every epoch and is stopped when the scheduler says STOP (BOHB is the same scheduler
with a KDE searcher). The runner sees one evaluation per epoch, each continuing the last,
and so charges the epochs trained. The loop below repeats what ``syne_tune.Tuner`` does:
``suggest`` -> ``on_trial_add`` -> ``on_trial_result`` per epoch -> ``on_trial_remove``
on STOP (Tuner does not call ``on_trial_complete`` after a STOP either).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from benchmarks.peers.base import Peer, PerEpochRun, Request
from benchmarks.peers.spaces import fidelity_range, syne_tune_space, to_metaml
from benchmarks.problems.base import Problem
from metaml.core.records import TrialRecord

METRIC = "loss"


class _SyneTune(Peer):
    requires = ("syne_tune",)
    distributions = ("syne-tune",)
    install = "pip install 'syne-tune==0.16.0'"
    continues = True
    charging = "one run per configuration reporting each epoch (stopping-type ASHA): charged the epochs trained"
    scheduler_name = ""

    def __init__(self, problem: Problem, seed: int, budget_fte: float, reduction_factor: int = 3) -> None:
        super().__init__(problem, seed, budget_fte)
        logging.getLogger("syne_tune").setLevel(logging.ERROR)
        self.reduction_factor = reduction_factor
        self.resource = fidelity_range(problem.space)[2]
        self.scheduler = self._scheduler(syne_tune_space(problem.space))
        self._run: PerEpochRun | None = None
        self._next_id = 0

    def _scheduler(self, config_space: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _metrics(self, record: TrialRecord) -> dict[str, float]:
        return {METRIC: self.loss(record)}

    @property
    def _common(self) -> dict[str, Any]:
        return {"metric": METRIC, "time_attr": self.resource, "max_t": int(self.f_max), "do_minimize": True,
                "random_seed": self.seed, "grace_period": int(self.f_min), "reduction_factor": self.reduction_factor}

    @property
    def settings(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler_name, "type": "stopping", "reduction_factor": self.reduction_factor,
                "grace_period": int(self.f_min), "max_t": int(self.f_max)}

    def ask(self) -> Request | None:
        if self._run is None:
            from syne_tune.backend.trial_status import Trial

            suggestion = self.scheduler.suggest()
            if suggestion is None:
                return None
            trial = Trial(trial_id=self._next_id, config=suggestion.config, creation_time=datetime.datetime.now())
            self._next_id += 1
            self.scheduler.on_trial_add(trial=trial)
            self._run = PerEpochRun(to_metaml(self.problem.space, suggestion.config), trial, self.f_min)
        return self._run.request({"syne_tune_trial": self._run.handle.trial_id})

    def tell(self, request: Request, record: TrialRecord) -> None:
        from syne_tune.optimizer.scheduler import SchedulerDecision

        run = self._run
        assert run is not None
        step = int(round(float(record.end_step or 0.0)))
        run.last = record.number
        decision = self.scheduler.on_trial_result(trial=run.handle, result={**self._metrics(record), self.resource: step})
        if decision == SchedulerDecision.STOP or step >= int(self.f_max):
            self.scheduler.on_trial_remove(trial=run.handle)
            self._run = None
            return
        run.epoch = step + 1.0


class SyneTuneASHA(_SyneTune):
    name = "syne-asha"
    scheduler_name = "ASHA"

    def _scheduler(self, config_space: dict[str, Any]) -> Any:
        from syne_tune.optimizer.baselines import ASHA

        return ASHA(config_space, **self._common)


class SyneTuneBOHB(_SyneTune):
    name = "syne-bohb"
    scheduler_name = "BOHB"

    def _scheduler(self, config_space: dict[str, Any]) -> Any:
        from syne_tune.optimizer.baselines import BOHB

        return BOHB(config_space, **self._common)


class SyneTuneMOASHA(_SyneTune):
    """MOASHA: ASHA whose rungs promote by non-dominated sorting of every objective (stopping type)."""

    name = "syne-moasha"
    scheduler_name = "MOASHA"
    multi_objective = True
    slow = True  # ~1 min of its own time per 30-FTE LCBench run: it sorts every rung on each epoch's report

    def _metrics(self, record: TrialRecord) -> dict[str, float]:
        return {f"loss_{o.name}": v for o, v in zip(self.problem.objectives, self.losses(record), strict=True)}

    def _scheduler(self, config_space: dict[str, Any]) -> Any:
        from syne_tune.optimizer.schedulers.multiobjective.moasha import MOASHA

        common = {k: v for k, v in self._common.items() if k != "metric"}
        return MOASHA(config_space, metrics=[f"loss_{o.name}" for o in self.problem.objectives], **common)
