"""``benchmarks.pipelines``: what it reports from a study and a default (a hand-made study, no training)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.pipelines import ELSEWHERE, EXAMPLES, EXAMPLES_DIR, compare, render
from metaml import Study
from metaml.store import Proposal, TrialRecord
from metaml.studyfile import load_study_file


def _told(study: Study, fidelity: int, metrics: dict[str, float]) -> TrialRecord:
    study.store.enqueue(study.id, Proposal({}, fidelity))
    trial = study.ask()
    assert trial is not None
    trial.last_step = float(fidelity)
    return study.tell(trial, metrics)


def test_compare_reports_error_improvement_and_gains_among_as_accurate_models(tmp_path: Path) -> None:
    spec = load_study_file(EXAMPLES_DIR / "tabular_fairness.yaml")
    space = {n: p for n, p in spec.space.parameters.items() if n in ("dataset", "epochs")}
    study = Study.create("bench", space, spec.objectives, store=tmp_path / "s.db", optimizer="random")
    dpd = "demographic_parity_difference"
    default = _told(study, 9, {"val_error": 0.135, dpd: 0.19})
    _told(study, 9, {"val_error": 0.134, dpd: 0.14})  # front, accurate
    _told(study, 9, {"val_error": 0.140, dpd: 0.05})  # front, fair
    _told(study, 9, {"val_error": 0.130, dpd: 0.30})  # over the limit
    _told(study, 3, {"val_error": 0.100, dpd: 0.00})  # not full length
    # test metrics come from the final evaluation (by trial number), never from a trial's own metrics
    test = {0: {"test_error": 0.147, f"test_{dpd}": 0.18}, 1: {"test_error": 0.150, f"test_{dpd}": 0.13},
            2: {"test_error": 0.146, f"test_{dpd}": 0.04}}  # fmt: skip
    result = compare(spec, default, study, test)
    assert result["default_feasible"] is False  # 0.19 > the limit of 0.15
    assert [p["trial"] for p in result["front"]] == [1, 2]
    assert abs(result["error_improvement"] - 0.001) < 1e-12 and result["best_error_any"]["trial"] == 3
    validation, test = result["gains"]["validation"], result["gains"]["test"]
    assert validation["as_accurate"] == 1 and validation[dpd]["trial"] == 1 and abs(validation[dpd]["gain"] - 0.05) < 1e-12
    assert test["as_accurate"] == 1 and test[f"test_{dpd}"]["trial"] == 2
    assert result["default"]["trial"] == 0 and result["front"][0]["test_error"] == 0.150
    text = render({**result, "budget_fte": 20, "default_seconds": 1.0, "study_seconds": 2.0, "workers": 2})
    assert "error improvement: +0.0010 validation, -0.0030 test" in text and "| default (0) | 0.135 |" in text


def test_every_example_of_a_built_in_pipeline_is_benchmarked() -> None:
    built_in = {p.stem for p in EXAMPLES_DIR.glob("*.yaml") if "function: metaml.pipelines." in p.read_text()}
    assert built_in == set(EXAMPLES) | set(ELSEWHERE)
