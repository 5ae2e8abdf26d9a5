"""metaml's three trial contexts run the package's trial context conformance suite (``metaml.testing.trial_context``).

A study's ``metaml.Trial``, the final evaluation's ``CheckpointTrial`` and the tabular
benchmark's in-memory trial: the built-in pipelines are typed against ``TrialContext`` alone
and run on each of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.problems.tabular import MemoryTrial, _Run
from metaml import Study
from metaml.budget import Budget
from metaml.core.records import Proposal
from metaml.core.trial_context import TrialContext
from metaml.execution import ExecutionSettings, work
from metaml.pipelines.evaluation import CheckpointTrial
from metaml.space import Fidelity, Float
from metaml.testing.trial_context import SECOND, TrialContextSuite
from metaml.trial import Trial

CONFIG = {"x": 0.5}


def _study(folder: Path) -> Study:
    space = {"x": Float(0.0, 1.0), "epochs": Fidelity(1, SECOND)}
    return Study.create("contexts", space, "val_error", store=folder / "study.db", artifacts=folder / "artifacts")


def _claim(study: Study, fidelity: int, continue_from: int | None = None) -> Trial:
    study.store.enqueue(study.id, Proposal(CONFIG, fidelity, continue_from, "queued by the suite"))
    trial = study.ask("suite:1")
    assert trial is not None
    return trial


class StudyTrials:
    """``metaml.Trial``: each following run is a promotion that continues the latest trial's checkpoint."""

    trains = True

    def __init__(self, folder: Path) -> None:
        self.study = _study(folder)
        self.latest: Trial | None = None

    def fresh(self, fidelity: int) -> TrialContext:
        self.latest = _claim(self.study, fidelity)
        return self.latest

    def following(self, fidelity: int) -> TrialContext:
        assert self.latest is not None
        self.study.tell(self.latest, {"val_error": 0.5})
        self.latest = _claim(self.study, fidelity, continue_from=self.latest.number)
        return self.latest

    def leave_checkpoint(self, step: int, **objects: Any) -> None:  # pragma: no cover - it trains
        raise NotImplementedError


class StandIns:
    """``CheckpointTrial``: restores what a study's trial checkpointed when it finished."""

    trains = False

    def __init__(self, folder: Path) -> None:
        self.study = _study(folder)
        self.folder = folder / "nothing-here"
        self.number = 0

    def fresh(self, fidelity: int) -> TrialContext:
        return CheckpointTrial(self.number, self.folder, fidelity, self.study.full_fidelity, self.study.uid)

    def leave_checkpoint(self, step: int, **objects: Any) -> None:
        trial = _claim(self.study, step)
        trial.checkpoint(step, **objects)
        self.study.tell(trial, {"val_error": 0.5})
        self.folder, self.number = trial.directory, trial.number

    def following(self, fidelity: int) -> TrialContext:
        return CheckpointTrial(self.number, self.folder, fidelity, self.study.full_fidelity, self.study.uid,
                               config=CONFIG)  # fmt: skip


class MemoryTrials:
    """The tabular benchmark's in-memory trial: one run's curve and state, continued by a longer request."""

    trains = True

    def __init__(self) -> None:
        self.run = _Run()

    def fresh(self, fidelity: int) -> TrialContext:
        self.run = _Run()
        return MemoryTrial(fidelity, SECOND, self.run, config=CONFIG)

    def following(self, fidelity: int) -> TrialContext:
        return MemoryTrial(fidelity, SECOND, self.run, config=CONFIG)

    def leave_checkpoint(self, step: int, **objects: Any) -> None:  # pragma: no cover - it trains
        raise NotImplementedError


class TestStudyTrial(TrialContextSuite):
    @pytest.fixture
    def maker(self, tmp_path: Path) -> Iterator[StudyTrials]:
        maker = StudyTrials(tmp_path)
        yield maker
        maker.study.store.close()


class TestCheckpointTrial(TrialContextSuite):
    @pytest.fixture
    def maker(self, tmp_path: Path) -> Iterator[StandIns]:
        maker = StandIns(tmp_path)
        yield maker
        maker.study.store.close()


class TestMemoryTrial(TrialContextSuite):
    @pytest.fixture
    def maker(self) -> MemoryTrials:
        return MemoryTrials()


def test_a_study_trial_names_its_objectives_and_runs_with_the_execution_settings(tmp_path: Path) -> None:
    study = _study(tmp_path)
    seen: list[Any] = []

    def train(config: dict[str, Any], trial: Trial) -> dict[str, float]:
        seen.append((trial.objective_names, trial.run_settings))
        return {"val_error": config["x"]}

    work(study, train, Budget(trials=1), ExecutionSettings(device="cpu", threads=1))
    ((names, run),) = seen
    assert names == ("val_error",) and (run.device, run.threads) == ("cpu", 1)
    study.store.close()
