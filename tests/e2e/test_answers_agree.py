"""Answers that agree with each other: one best, one hypervolume reference, the stored limits, the record.

Each test runs the real CLI on a tiny study, as a user would, and checks what lands in the
store and in the report.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from metaml import Study, TrialStatus
from tests.e2e.conftest import run_cli
from tests.pipelines.conftest import write_tiny_table

TINY_STORE = Path("runs") / "tiny" / "study.db"


def _json(args: list[str], cwd: Path) -> dict:
    done = run_cli([*args, "--json"], cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_best_front_hypervolume_and_budget_agree_across_every_output(study_dir: Path) -> None:
    run = run_cli(["run", "study.yaml", "--budget", "trials=8"], study_dir)  # the file says 6 trials
    assert run.returncode == 0, run.stderr
    study = Study.load("tiny", study_dir / TINY_STORE)
    assert len(study.trials()) == 8
    front = study.pareto_front()
    numbers = {t.number for t in front}
    ref = study.reference_point()
    assert ref is not None
    losses = np.array([[t.metrics["loss"], t.metrics["size"]] for t in front])  # type: ignore[index]
    assert np.all(losses < ref)  # every front member counts in the hypervolume
    hv = study.hypervolume()
    assert hv > 0.0

    progress = re.findall(r"hypervolume ([0-9.e+-]+)", run.stdout)
    assert progress and float(progress[-1]) == pytest.approx(hv, rel=1e-3)  # printed with 4 digits
    status = _json(["status", "study.yaml"], study_dir)
    pareto = _json(["pareto", "study.yaml"], study_dir)
    report = _json(["report", "study.yaml", "-o", "r.html"], study_dir)
    assert status["hypervolume"] == pytest.approx(hv) and pareto["hypervolume"] == pytest.approx(hv)
    assert report["trajectory"][-1]["value"] == pytest.approx(hv)
    assert list(status["reference_point"].values()) == pytest.approx(ref.tolist())
    assert pareto["reference_point"] == status["reference_point"]
    assert report["reference_point"] == pytest.approx(ref.tolist())
    # the reference the progress line used is recorded, with an event for each move
    assert study.store.get_study("tiny").info["reference_point"] == pytest.approx(ref.tolist())
    moves = [e for e in study.store.events(study.id) if e.kind == "reference_point"]
    assert moves and moves[-1].data["after"] == pytest.approx(ref.tolist())

    assert status["best"]["number"] in numbers and study.best().number == status["best"]["number"]  # type: ignore[union-attr]
    assert {t["number"] for t in pareto["front"]} == numbers
    assert {b["number"] for b in report["best"].values() if b} <= numbers
    assert report["budget"] == {"trials": 8}  # the budget it ran with, not the file's


TRADE_OFF = '''
def train(config, trial):
    """A bigger model has a smaller loss: a front of several sizes."""
    for step in range(1, int(trial.fidelity or 1) + 1):
        trial.report(step, loss=1.0 / config["n"] + 1.0 / step)
    return {"loss": (config["x"] - 0.3) ** 2 + 1.0 / config["n"], "size": float(config["n"])}
'''


def test_pareto_says_when_the_file_limit_differs_from_the_stored_one(study_dir: Path) -> None:
    (study_dir / "tradeoff.py").write_text(TRADE_OFF)
    yaml_path = study_dir / "study.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("tiny:train", "tradeoff:train"))
    assert run_cli(["run", "study.yaml", "--budget", "trials=12"], study_dir).returncode == 0
    study = Study.load("tiny", study_dir / TINY_STORE)
    stored_front = {t.number for t in study.pareto_front()}
    sizes = sorted(t.metrics["size"] for t in study.pareto_front())  # type: ignore[index]
    limit = sizes[len(sizes) // 2]
    assert sizes[-1] > limit  # the new limit leaves some of the stored front out
    yaml_path.write_text(yaml_path.read_text().replace("{name: size, goal: min}", f"{{name: size, goal: min, limit: {limit:g}}}"))

    plain = run_cli(["pareto", "study.yaml", "--json"], study_dir)
    assert plain.returncode == 0, plain.stderr
    assert "size" in plain.stderr and f"{limit:g}" in plain.stderr and "--limits-from-file" in plain.stderr
    data = json.loads(plain.stdout)
    assert data["edited_limits"] == [{"objective": "size", "stored": None, "file": limit}]
    assert data["limits_from"] == "store" and {t["number"] for t in data["front"]} == stored_front

    applied = run_cli(["pareto", "study.yaml", "--json", "--limits-from-file"], study_dir)
    assert applied.returncode == 0, applied.stderr
    ranked = json.loads(applied.stdout)
    assert ranked["limits_from"] == "file" and ranked["front"]
    assert all(t["metrics"]["size"] <= limit for t in ranked["front"])
    assert {t["number"] for t in ranked["front"]} != stored_front
    assert Study.load("tiny", study_dir / TINY_STORE).objectives[1].limit is None  # nothing stored changed
    status = run_cli(["status", "study.yaml"], study_dir)
    assert status.returncode == 0 and "size" in status.stderr  # every reading command says so


@pytest.mark.slow  # over 10 s: in `make slow`
def test_exporting_a_failed_trial_refuses_and_changes_nothing(study_dir: Path) -> None:
    (study_dir / "flaky.yaml").write_text((study_dir / "study.yaml").read_text()
                                          .replace("name: tiny", "name: flaky").replace("tiny:train", "tiny:flaky"))
    assert run_cli(["run", "flaky.yaml"], study_dir).returncode == 0
    study = Study.load("flaky", study_dir / "runs" / "flaky" / "study.db")
    failed = next(t for t in study.trials() if t.status is TrialStatus.FAILED)
    done = run_cli(["export", "flaky.yaml", "--trial", str(failed.number), "out"], study_dir)
    assert done.returncode == 1 and f"trial {failed.number}" in done.stderr and "Traceback" not in done.stderr
    assert not (study_dir / "out").exists()
    good = next(t for t in study.pareto_front())
    assert run_cli(["export", "flaky.yaml", "--trial", str(good.number), "out"], study_dir).returncode == 0


TABLE_YAML = textwrap.dedent("""\
    name: tiny-table
    function: metaml.pipelines.tabular:train
    seed: 0
    space:
      dataset: {type: constant, value: tiny.csv}
      target: {type: constant, value: label}
      threads: {type: constant, value: 1}
      lr: {type: float, lower: 1.0e-3, upper: 1.0e-1, log: true}
      epochs: {type: fidelity, lower: 1, upper: 2}
    objectives:
      - {name: val_error, goal: min}
    optimizer: random
    budget: {trials: 9}
    """)


@pytest.mark.slow  # over 10 s: in `make slow`
def test_a_builtin_pipeline_report_reads_its_data_hash_and_starts_the_ablation_at_its_default(tmp_path: Path) -> None:
    write_tiny_table(tmp_path / "tiny.csv")
    (tmp_path / "study.yaml").write_text(TABLE_YAML)
    run = run_cli(["run", "study.yaml", "-q"], tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    study = Study.load("tiny-table", tmp_path / "runs" / "tiny-table" / "study.db")
    default = study.trials()[0]
    assert study.store.get_study("tiny-table").info["default_trial"]["number"] == default.number == 0
    recorded = json.loads((study.trial_directory(0) / "pipeline.json").read_text())["data"]["content_hash"]

    report = _json(["report", "study.yaml", "-o", "r.html"], tmp_path)
    assert report["provenance"]["data_hash"] == recorded
    assert report["ablation"]["start_trial"] == 0 and report["ablation"]["start"] == default.config
    assert default.config != study.space.default()  # the space's middle is not the pipeline's default
    html = (tmp_path / "r.html").read_text()
    assert recorded in html

    best = study.best()
    assert best is not None and best.status is TrialStatus.COMPLETED
    assert run_cli(["export", "study.yaml", "--trial", str(best.number), "out"], tmp_path).returncode == 0
    card = (tmp_path / "out" / "MODEL_CARD.md").read_text()
    assert recorded in card and (tmp_path / "out" / "pipeline.json").is_file()
    code = re.search(r"## To load the model\n.*?```python\n(.*?)```", card, re.S)
    assert code is not None
    _load_like_the_card(tmp_path / "out", code.group(1))


def _load_like_the_card(folder: Path, code: str) -> None:
    """Build the tabular model from pipeline.json and the data's shape, then run the card's three lines."""
    import os

    import torch

    from metaml.pipelines import tabular
    from metaml.pipelines.models import build_tabular_model

    cfg = json.loads((folder / "pipeline.json").read_text())["config"]
    here = os.getcwd()
    os.chdir(folder.parent)  # the dataset path is relative to the study file's folder
    try:
        data = tabular.prepare(cfg)
        model = build_tabular_model(cfg, data.n_numeric, data.cardinalities, data.n_classes)
        os.chdir(folder)
        exec(code, {"model": model})
    finally:
        os.chdir(here)
    saved = torch.load(folder / "checkpoint.pt", weights_only=True)["states"]["model"]
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
