"""The peer contract: another library's optimizer, driven one evaluation at a time by the runner.

The runner owns the clock and the bill. A peer only says what it wants trained next
(``ask``: a configuration, a fidelity, and whether the run continues one of the runner's
earlier evaluations) and hears what came of it (``tell``). So every library is charged by
the same code that charges metaml's optimizers: a fresh request pays its whole fidelity, a
continuation only the epochs beyond the evaluation it continues. Whether a peer may say
"continue" is a property of the library, declared here (``continues``) and documented in
docs/benchmarks.md, not something the runner guesses.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from benchmarks.problems.base import Problem
from metaml.core.records import TrialRecord


@dataclass(frozen=True)
class Request:
    """What a peer wants trained next.

    ``continue_from`` is the number of the runner's earlier evaluation (same configuration)
    whose run this one continues; None trains from scratch. A ``fidelity`` of None is a full run.
    """

    config: dict[str, Any]
    fidelity: float | None
    continue_from: int | None = None
    info: dict[str, Any] = field(default_factory=dict)


class Peer(ABC):
    """One peer optimizer on one problem and seed, asked and told step by step."""

    #: The spec the command line names it by (``optuna-tpe``).
    name: ClassVar[str]
    #: Module names that must import for the peer to run.
    requires: ClassVar[tuple[str, ...]]
    #: Distributions whose versions go into every result line.
    distributions: ClassVar[tuple[str, ...]]
    #: How to install it, in one line.
    install: ClassVar[str]
    #: True when the library resumes promoted runs (charged only the new epochs).
    continues: ClassVar[bool] = False
    #: How the runner charges it, one sentence for the docs and the result line.
    charging: ClassVar[str] = "every evaluation pays its whole fidelity (retrained from scratch)"
    #: Slow per proposal (model fitting): the compare command gives it fewer seeds by default.
    slow: ClassVar[bool] = False
    #: Optimizes every objective of the problem (a Pareto front), not only the first.
    multi_objective: ClassVar[bool] = False

    def __init__(self, problem: Problem, seed: int, budget_fte: float) -> None:
        self.problem = problem
        self.seed = int(seed)
        self.budget_fte = float(budget_fte)
        self._workdir: Path | None = None

    @abstractmethod
    def ask(self) -> Request | None:
        """The next evaluation, or None when the peer has nothing more to propose."""

    @abstractmethod
    def tell(self, request: Request, record: TrialRecord) -> None:
        """Hear the result of ``request``: ``record.number`` names it for later continuations."""

    @property
    def settings(self) -> dict[str, Any]:
        """The knobs the peer was built with, for the result line."""
        return {}

    def loss(self, record: TrialRecord) -> float:
        """The first objective of a result, lower is better (what every peer minimizes)."""
        assert record.metrics is not None
        value = self.problem.primary.sign * float(record.metrics[self.problem.primary.name])
        return value if math.isfinite(value) else 1e12

    def losses(self, record: TrialRecord) -> list[float]:
        """Every objective of a result as a loss (what multi-objective peers minimize), in the problem's order."""
        assert record.metrics is not None
        out = []
        for o in self.problem.objectives:
            value = o.sign * float(record.metrics[o.name])
            out.append(value if math.isfinite(value) else 1e12)
        return out

    @property
    def workdir(self) -> Path:
        """A private temporary folder for libraries that insist on writing files; removed by close()."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"metaml-peer-{self.name}-"))
        return self._workdir

    def close(self) -> None:
        """Release what the library holds (files, threads)."""
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    # ------------------------------------------------------------ small helpers
    @property
    def f_min(self) -> float:
        return self.problem.min_fidelity

    @property
    def f_max(self) -> float:
        return self.problem.max_fidelity


class PerEpochRun:
    """Book-keeping for pruning-style peers: one run per configuration, one evaluation per epoch.

    The run is fresh at its first epoch and continues its own previous evaluation after that,
    so the runner charges one epoch per step: exactly what a training loop that reports each
    epoch and may be stopped after it costs.
    """

    def __init__(self, config: dict[str, Any], handle: Any, first: float) -> None:
        self.config = config
        self.handle = handle  # the library's trial object
        self.epoch = float(first)
        self.last: int | None = None  # the runner's number of this run's latest evaluation

    def request(self, info: dict[str, Any] | None = None) -> Request:
        return Request(dict(self.config), self.epoch, self.last, dict(info or {}))
