"""Run settings (device, threads): execution settings that reach a trial, not constants of the search space.

They may change when a study is resumed; a built-in pipeline trains with them, and an older
study file that still has them in the space runs as before, with a deprecation note.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaml import Study
from metaml.core.trial_context import RunSettings
from metaml.errors import MetamlError
from metaml.execution import ExecutionSettings
from metaml.final_evaluation import recorded_run_settings
from metaml.pipelines.base import PROVENANCE_FILE
from metaml.store import Proposal, TrialStatus
from metaml.studyfile import load_study_file
from tests.pipelines.conftest import PipelineCase, run_trials

STUDY = """\
name: run-settings
function: {function}
space:
  dataset: {{type: constant, value: breast_cancer}}
  threads: {{type: constant, value: 1}}
  epochs: {{type: fidelity, lower: 1, upper: 2}}
objectives: [val_error]
{execution}
"""


def _provenance(study_dir: Path) -> dict[str, object]:
    return json.loads((study_dir / PROVENANCE_FILE).read_text())["config"]  # type: ignore[no-any-return]


def test_the_execution_settings_decide_where_and_on_how_many_threads_a_pipeline_trains(
    tabular_case: PipelineCase, tmp_path: Path
) -> None:
    space = tabular_case.space(epochs=1)  # its constants say threads 1, device auto
    study = Study.create("run-settings", space, "val_error", store=tmp_path / "study.db")
    study.store.enqueue(study.id, Proposal(tabular_case.config({}, space), 1))
    (record,) = study.optimize(tabular_case.module.train, budget=1, settings={"device": "cpu", "threads": 2})
    assert record.status is TrialStatus.COMPLETED
    config = _provenance(study.trial_directory(record.number))
    assert (config["device"], config["threads"]) == ("cpu", 2)  # what it trained with, recorded beside its checkpoint


def test_without_run_settings_a_pipeline_reads_its_space_as_before(tabular_case: PipelineCase, tmp_path: Path) -> None:
    space = tabular_case.space(epochs=1, device="cpu")
    study, (record,) = run_trials(tabular_case, space, [Proposal(tabular_case.config({"device": "cpu"}, space), 1)], tmp_path)
    assert record.status is TrialStatus.COMPLETED
    config = _provenance(study.trial_directory(record.number))
    assert (config["device"], config["threads"]) == ("cpu", 1)


def test_a_pipeline_study_file_with_run_settings_in_its_space_gets_a_deprecation_note(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(STUDY.format(function="metaml.pipelines.tabular:train", execution=""))
    (note,) = load_study_file(path).deprecations
    assert note.startswith(f"{path}:5: field 'space.threads':") and "execution:" in note
    path.write_text(STUDY.format(function="metaml.pipelines.tabular:train", execution="execution: {threads: 4}"))
    spec = load_study_file(path)
    assert spec.execution.run_settings == RunSettings(threads=4) and len(spec.deprecations) == 1


def test_a_user_function_keeps_its_own_constants_without_a_note(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(STUDY.format(function="mine:train", execution="execution: {device: cuda:1}"))
    spec = load_study_file(path)
    assert spec.deprecations == () and spec.execution.run_settings == RunSettings(device="cuda:1")


@pytest.mark.parametrize("bad", [{"threads": 0}, {"threads": 1.5}, {"threads": True}, {"device": ""}, {"device": 3}])
def test_a_bad_run_setting_is_refused_with_its_name(bad: dict[str, object]) -> None:
    with pytest.raises(MetamlError, match=next(iter(bad))):
        ExecutionSettings.from_dict(bad)


def test_the_final_evaluation_scores_with_the_run_settings_metaml_run_recorded(
    tabular_case: PipelineCase, tmp_path: Path
) -> None:
    study = Study.create("run-settings", tabular_case.space(epochs=1), "val_error", store=tmp_path / "study.db")
    assert recorded_run_settings(study) == RunSettings()
    study.update_metadata(execution=ExecutionSettings(device="cpu", threads=3).to_dict())
    assert recorded_run_settings(study) == RunSettings(device="cpu", threads=3)
