"""The HTML report: every section, escaping of the user's text, partial and failed studies, --json."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from metaml import Study
from metaml.report import gather, render, write_report
from metaml.report.html import HOW_TO_READ
from metaml.report.summary import normalize_error

SECTIONS = ["summary", "pareto", "trajectory", "learning-curves", "importance", "ablation", "failures",
            "decisions", "reproducibility"]
EVIL = "<script>alert(1)</script>"


def figure_data(html: str) -> dict:
    match = re.search(r'<script id="figure-data" type="application/json">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))


def test_a_tiny_study_has_every_section_and_plotly_once(make_study: Callable[..., Study], tmp_path: Path) -> None:
    study = make_study(24, fail_every=7)
    data = write_report(study, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
        assert str(HOW_TO_READ[section]).split(",")[0].replace("'", "&#39;") in html
    assert html.count("plotly.js v") == 1  # the library is embedded once, not per figure
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", html)  # nothing to fetch: works offline
    figures = figure_data(html)
    for key in ("fig-pareto", "fig-trajectory", "fig-curves", "fig-importance-0", "fig-marginals-0"):
        assert key in figures and f'id="{key}"' in html
    assert data.failures and data.failures[0].count == 3
    assert data.ablation is not None and data.ablation.steps


def test_the_json_summary_has_the_same_numbers(make_study: Callable[..., Study]) -> None:
    study = make_study(24, fail_every=7)
    data = gather(study)
    out = json.loads(json.dumps(data.to_json(), default=str))
    assert out["trials"]["failed"] == 3 and out["trials"]["completed"] == 21
    assert out["fte"] == pytest.approx(study.cost_fte())
    assert {t["number"] for t in out["front"]} == {t.number for t in study.pareto_front()}
    assert set(out["importance"]) == {"val_error", "n_params"}
    assert out["importance"]["n_params"]["fractions"]
    assert out["failures"][0]["reason"] == "RuntimeError: CUDA out of memory at step N (0x…)"
    assert out["ablation"]["steps"] and out["ablation"]["trial"] == study.best().number  # type: ignore[union-attr]


def test_user_text_is_escaped_everywhere(tmp_path: Path) -> None:
    space = {
        EVIL: {"type": "float", "lower": 0.0, "upper": 1.0},
        "kind": {"type": "categorical", "choices": [EVIL, "plain"]},
    }
    study = Study.create(
        "evil", space, [{"name": "loss"}], store=tmp_path / "s.db", seed=0,
        info={"study_yaml": f"name: evil\n# {EVIL}\n", "description": EVIL},
    )
    for i in range(12):
        trial = study.ask()
        assert trial is not None
        trial.report(1, loss=trial.config[EVIL])
        if i == 3:
            study.tell(trial, error=f"bad value {EVIL}")
        else:
            study.tell(trial, {"loss": trial.config[EVIL] + (0.5 if trial.config["kind"] == EVIL else 0.0)})
    write_report(study, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "</script" not in figure_data(html).__repr__()  # the figures' JSON cannot close its <script>
    # The figures carry the names HTML-escaped too (Plotly renders tags in labels).
    assert any("&lt;script&gt;" in json.dumps(f) for f in figure_data(html).values())


def test_a_study_without_completed_trials_says_so_and_shows_the_failures(
    make_study: Callable[..., Study], tmp_path: Path
) -> None:
    study = make_study(5, fail_every=1, optimizer="random")
    data = write_report(study, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "No trial has completed at full fidelity yet" in html
    assert data.front == [] and data.ablation is None and data.best["val_error"] is None
    assert "CUDA out of memory at step N" in html
    assert data.failures[0].count == 5
    for section in SECTIONS:
        assert f'<section id="{section}">' in html


def test_an_empty_study_and_a_running_one_render(tmp_path: Path) -> None:
    study = Study.create("empty", {"x": {"type": "float", "lower": 0, "upper": 1}}, "loss", store=tmp_path / "e.db")
    html = render(gather(study))
    assert "No trial has completed" in html and "No trial failed" in html
    study.ask()  # a trial that is running now
    html = render(gather(study))
    assert "This study is still running (1 trials running" in html


def test_one_objective_shows_the_trajectory_instead_of_a_front(make_study: Callable[..., Study]) -> None:
    study = make_study(20, objectives=["val_error"], name="single")
    html = render(gather(study))
    figures = figure_data(html)
    assert "fig-pareto" not in figures and "fig-trajectory" in figures
    assert "This study has one objective" in html


def test_three_objectives_get_parallel_coordinates(make_study: Callable[..., Study]) -> None:
    study = make_study(30, objectives=["val_error", "n_params", "latency_ms"], optimizer="random", name="three")
    figures = figure_data(render(gather(study)))
    assert figures["fig-pareto"]["data"][0]["type"] == "parcoords"


def test_the_default_configuration_is_compared_only_when_it_was_run(make_study: Callable[..., Study], tmp_path: Path) -> None:
    study = make_study(10, optimizer="random", name="nodefault")
    data = gather(study)
    assert data.default["trial"] is None and data.default["metrics"] is None
    assert "default configuration (each parameter's prior, or its middle value or first choice) was not run" in render(data)
    queued = study.enqueue(study.space.default())
    trial = study.ask()
    assert trial is not None and trial.number == queued.number
    study.tell(trial, {"val_error": 0.5, "n_params": 100.0})
    data = gather(study)
    assert data.default["trial"] == queued.number and data.default["metrics"] == {"val_error": 0.5, "n_params": 100.0}


def test_error_messages_are_grouped_without_their_numbers() -> None:
    assert normalize_error("OOM at 0x7fa3 on trial 12: 3.5e-3 GiB") == normalize_error("OOM at 0xbeef on trial 7: 1 GiB")
    assert normalize_error("KeyError: 'lr2'") == "KeyError: 'lr2'"


def test_the_report_command_writes_the_file_and_prints_json(
    make_study: Callable[..., Study], cli: typer.Typer, tmp_path: Path
) -> None:
    study = make_study(12, name="clistudy")
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(cli, ["report", "--store", str(tmp_path / "clistudy.db"), "--study", "clistudy",
                                      "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["html"] == str(out) and out.stat().st_size == payload["bytes"]
    assert payload["trials"]["completed"] == len(study.trials())
    result = CliRunner().invoke(cli, ["report", "--store", str(tmp_path / "clistudy.db"), "--study", "clistudy",
                                      "-o", str(out), "--target", "999"])
    assert result.exit_code == 1
    assert "has no trial 999: its trials are numbered 0 to 11" in result.output


# ------------------------------------------------------ answers that agree with each other


def _told(tmp_path: Path, results: list[dict[str, float]], **info: object) -> Study:
    """A study of fully trained trials with the given metrics, told in that order."""
    from tests.report.conftest import SPACE, YAML

    study = Study.create("told", SPACE, ["val_error", "n_params"], store=tmp_path / "told.db", optimizer="random",
                         info={"study_yaml": YAML.format(name="told", trials=len(results)), **info})
    config = study.space.default()
    for metrics in results:
        study.enqueue(config)
        trial = study.ask("test:1")
        assert trial is not None
        study.tell(trial, metrics)
    return study


def test_the_report_uses_the_study_reference_and_its_best_is_on_the_front(tmp_path: Path) -> None:
    study = _told(tmp_path, [
        {"val_error": 0.20, "n_params": 100.0},
        {"val_error": 0.10, "n_params": 6000.0},  # ties 2 on val_error with 6x the parameters: dominated
        {"val_error": 0.10, "n_params": 1000.0},
        {"val_error": 0.05, "n_params": 9000.0},
    ])
    data = gather(study)
    ref = study.reference_point()
    assert ref is not None
    assert data.to_json()["reference_point"] == pytest.approx(ref.tolist())
    assert data.trajectory[-1]["value"] == pytest.approx(study.hypervolume())
    assert study.hypervolume() > 0.0
    front = {t.number for t in study.pareto_front()}
    assert front == {0, 2, 3}
    assert all(np.all(np.array([t.metrics["val_error"], t.metrics["n_params"]]) < ref)  # type: ignore[index]
               for t in study.pareto_front())
    assert {k: t.number for k, t in data.best.items() if t is not None} == {"val_error": 3, "n_params": 0}
    assert study.best().number == 3  # type: ignore[union-attr]
    tied = _told(tmp_path / "b", [{"val_error": 0.1, "n_params": 6000.0}, {"val_error": 0.1, "n_params": 1000.0}])
    assert gather(tied).best["val_error"].number == 1 == tied.best().number  # type: ignore[union-attr]


def test_the_report_shows_the_budget_the_study_ran_with(make_study: Callable[..., Study], tmp_path: Path) -> None:
    study = make_study(6, optimizer="random", info={"budget": {"trials": 3}})  # the file says 6 trials
    data = gather(study)
    assert data.budget is not None and data.budget.to_dict() == {"trials": 3}
    assert data.to_json()["budget"] == {"trials": 3}
    older = make_study(4, name="older", optimizer="random")  # no budget in the info: the file's
    assert gather(older).budget.to_dict() == {"trials": 4}  # type: ignore[union-attr]


def test_the_data_hash_comes_from_the_trials_provenance_files(make_study: Callable[..., Study], tmp_path: Path) -> None:
    from metaml.pipelines.base import PROVENANCE_FILE
    from metaml.report.provenance import provenance

    study = make_study(6, optimizer="random")
    assert provenance(study)["data_hash"] is None
    for t in study.trials():
        folder = study.trial_directory(t.number)
        folder.mkdir(parents=True, exist_ok=True)
        digest = "sha256:feed" if t.number < 4 else "sha256:beef"
        (folder / PROVENANCE_FILE).write_text(json.dumps({"pipeline": "tabular", "config": {},
                                                          "data": {"content_hash": digest}}))
    record = provenance(study)
    assert record["data_hashes"] == {"sha256:feed": [0, 1, 2, 3], "sha256:beef": [4, 5]}
    html = render(gather(study))
    assert "sha256:feed" in html and "sha256:beef" in html
    for t in study.trials()[4:]:
        (study.trial_directory(t.number) / PROVENANCE_FILE).unlink()
    assert provenance(study)["data_hash"] == "sha256:feed"


def test_the_ablation_starts_from_the_pipeline_default_trial(make_study: Callable[..., Study]) -> None:
    default = {"width": 256, "depth": 3, "activation": "tanh", "optimizer": "sgd", "optimizer.sgd.momentum": 0.0,
               "optimizer.sgd.nesterov": False, "lr": 0.3, "dropout": 0.5}
    study = make_study(16, optimizer="random", default=default)
    data = gather(study)
    trial0 = study.trials()[0]
    assert trial0.config == study.space.validate(default)
    assert data.ablation is not None and data.ablation.start == trial0.config
    assert data.ablation.start_trial == 0 and data.to_json()["ablation"]["start_trial"] == 0
    plain = make_study(16, name="plain", optimizer="random")
    path = gather(plain).ablation
    assert path is not None and path.start_trial is None and path.start == plain.space.default()
