"""The trial context contract: what a training function (a built-in pipeline's or the user's) may use of its trial.

Three implementations hand it to the same training code: ``metaml.Trial`` (a run of a
study: reports go to the store, checkpoints to the trial's folder), the final evaluation's
``CheckpointTrial`` (restores a finished trial's model and trains nothing) and the
benchmark's in-memory trial (curves and states kept in the process). The built-in
pipelines are typed against ``TrialContext`` alone, so each of them runs on all three;
``metaml.testing.trial_context`` is the conformance suite an implementation must pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class RunSettings:
    """How a trial trains on this machine, as opposed to what it trains: never part of the search space.

    ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``) and ``threads`` (torch's
    intra-op threads) come from the study's execution settings, so they may change when a
    study is resumed elsewhere. ``None`` leaves the choice to the training function (a
    built-in pipeline then reads its space's setting, which defaults to ``auto``).
    """

    device: str | None = None
    threads: int | None = None


@runtime_checkable
class TrialContext(Protocol):
    """One run of a training function: what to train, up to where, and where its curve and state go.

    ``fidelity`` is the step (epoch) to train up to; ``max_fidelity`` the fidelity of one
    full run, on which every schedule is defined so that a fidelity is a prefix of the full
    run (None without a fidelity). ``restore`` loads the state the run continues from into
    the given objects and returns the step it reached (0 when fresh); ``report`` adds a point
    to the learning curve; ``checkpoint`` saves the objects' state at a step; ``should_stop``
    says whether the scheduler (or the budget) wants the run to end now. ``directory`` is a
    folder of the run's own for files worth keeping, or None for a stand-in that must write
    nothing. ``objective_names`` are the metrics the study ranks on, so that a pipeline
    computes each one it knows. ``config_at(step)`` is the configuration in force for the
    epoch that ends at ``step``: ``config`` with a fixed schedule's values of that step (a
    study replaying one, ``metaml.core.schedule``); read it each epoch to apply a schedule.
    ``info`` is what the optimizer said of this run besides its
    configuration (``Proposal.info``, e.g. ``{"oneshot": "supernet"}`` for a one-shot
    search's supernet); empty for most runs.
    """

    @property
    def number(self) -> int: ...

    @property
    def config(self) -> Mapping[str, Any]: ...

    @property
    def fidelity(self) -> float | None: ...

    @property
    def max_fidelity(self) -> float | None: ...

    @property
    def directory(self) -> Path | None: ...

    @property
    def objective_names(self) -> tuple[str, ...]: ...

    @property
    def run_settings(self) -> RunSettings: ...

    @property
    def info(self) -> Mapping[str, Any]: ...

    def config_at(self, step: float) -> Mapping[str, Any]: ...

    def report(self, step: float, **metrics: Any) -> None: ...

    def should_stop(self) -> bool: ...

    def checkpoint(self, step: float, **objects: Any) -> None: ...

    def restore(self, **objects: Any) -> int: ...
