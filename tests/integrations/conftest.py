"""A tiny finished study for the integrations' end-to-end tests: Hyperband over a cheap function, some trials failing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from metaml import Study, TrialStatus
from tests.e2e.conftest import TINY_MODULE, run_cli, study_yaml


@dataclass(frozen=True)
class TinyStudy:
    folder: Path
    study_file: Path
    study: Study


@pytest.fixture(scope="package")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyStudy:
    """`metaml run` on a study with a fidelity (so promotions), two objectives, nesting, and failures."""
    folder = tmp_path_factory.mktemp("tiny-study")
    (folder / "tiny.py").write_text(TINY_MODULE)
    (folder / "study.yaml").write_text(
        study_yaml(name="tiny", function="tiny:flaky", trials=14, extra="optimizer: {name: hyperband, eta: 2}\n")
    )
    result = run_cli(["run", "study.yaml", "--quiet"], folder)
    assert result.returncode in (0, 1), result.stderr  # failures on purpose may end the run early: fine here
    study = Study.load("tiny", folder / "runs" / "tiny" / "study.db")
    statuses = {t.status for t in study.trials()}
    assert TrialStatus.COMPLETED in statuses and TrialStatus.FAILED in statuses
    assert any(t.continue_from is not None for t in study.trials()), "the tiny study needs a promotion"
    return TinyStudy(folder, folder / "study.yaml", study)
