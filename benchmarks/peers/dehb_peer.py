"""DEHB (differential evolution + Hyperband) through its ask-and-tell interface.

DEHB's job carries a configuration and a fidelity; a configuration carried to a higher
rung is trained again from scratch, so every request is charged its whole fidelity.
"""

from __future__ import annotations

import logging
from typing import Any

from benchmarks.peers.base import Peer, Request
from benchmarks.peers.spaces import configspace, to_metaml
from benchmarks.problems.base import Problem
from metaml.core.records import TrialRecord


class DEHBPeer(Peer):
    name = "dehb"
    requires = ("dehb", "ConfigSpace")
    distributions = ("dehb", "ConfigSpace")
    # 0.1.2 pins numpy<2; 0.1.1 is the same optimizer without the pin.
    install = "pip install 'dehb==0.1.1'"

    def __init__(self, problem: Problem, seed: int, budget_fte: float, eta: int = 3) -> None:
        super().__init__(problem, seed, budget_fte)
        from dehb import DEHB

        logging.getLogger("dehb").setLevel(logging.ERROR)
        self.eta = int(eta)
        before = _sinks()
        self.dehb = DEHB(
            cs=configspace(problem.space, seed), min_fidelity=self.f_min, max_fidelity=self.f_max, eta=self.eta,
            seed=self.seed, n_workers=1, output_path=str(self.workdir), save_freq="end", log_level="ERROR",
        )
        self._sinks = _sinks() - before  # the log file DEHB adds to loguru for each instance
        self._job: dict[str, Any] | None = None

    @property
    def settings(self) -> dict[str, Any]:
        return {"eta": self.eta, "min_fidelity": self.f_min, "max_fidelity": self.f_max,
                "mutation_factor": 0.5, "crossover_prob": 0.5, "strategy": "rand1_bin"}

    def ask(self) -> Request | None:
        self._job = self.dehb.ask()
        config = to_metaml(self.problem.space, dict(self._job["config"]))
        return Request(config, float(self._job["fidelity"]), None, {"dehb_config_id": int(self._job["config_id"])})

    def tell(self, request: Request, record: TrialRecord) -> None:
        assert self._job is not None
        self.dehb.tell(self._job, {"fitness": self.loss(record), "cost": float(record.cost_fte or 0.0)})
        self._job = None

    def close(self) -> None:
        # DEHB's loguru sink points into the work dir: drop it (only it) before the folder goes.
        from loguru import logger

        for sink in self._sinks:
            try:
                logger.remove(sink)
            except ValueError:
                pass
        self._sinks = set()
        super().close()


def _sinks() -> set[int]:
    """Ids of loguru's current handlers (loguru keeps no public list of them)."""
    from loguru import logger

    return set(getattr(getattr(logger, "_core", None), "handlers", {}).keys())
