"""`metaml run` of a tiny PBT study on the tabular pipeline: exploit lineage, the exported schedule, its replay."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from metaml import Study
from metaml.lineage import lineage
from tests.e2e.conftest import run_cli
from tests.pipelines.conftest import write_tiny_table

YAML = textwrap.dedent("""\
    name: tiny-pbt
    function: metaml.pipelines.tabular:train
    seed: 0
    space:
      dataset: {type: constant, value: tiny.csv}
      target: {type: constant, value: label}
      metrics: {type: constant, value: []}
      threads: {type: constant, value: 1}
      lr: {type: float, lower: 1.0e-3, upper: 1.0e-1, log: true, schedulable: true}
      epochs: {type: fidelity, lower: 1, upper: 4}
    objectives:
      - {name: val_error, goal: min}
    optimizer: {name: pbt, population: 2, interval: 2, resample_probability: 0.0}
    budget: {trials: 5}
    """)

REPLAY = textwrap.dedent("""\
    name: tiny-replay
    function: metaml.pipelines.tabular:train
    seed: 0
    space:
      dataset: {type: constant, value: tiny.csv}
      target: {type: constant, value: label}
      metrics: {type: constant, value: []}
      threads: {type: constant, value: 1}
      batch_size: {type: int, lower: 16, upper: 64}
      epochs: {type: fidelity, lower: 1, upper: 4}
    objectives:
      - {name: val_error, goal: min}
    optimizer: random
    budget: {trials: 2}
    schedule: SCHEDULE
    """)


@pytest.mark.slow
def test_a_pbt_study_runs_exports_its_winners_schedule_and_a_new_study_replays_it(tmp_path: Path) -> None:
    write_tiny_table(tmp_path / "tiny.csv")
    (tmp_path / "study.yaml").write_text(YAML)
    result = run_cli(["run", "study.yaml"], tmp_path)
    assert result.returncode == 0, result.stderr
    study = Study.load("tiny-pbt", tmp_path / "runs" / "tiny-pbt" / "study.db")
    trials = study.trials()
    members = [t for t in trials if "pbt" in t.info]
    assert len(members) == 4  # trial 0 is the pipeline's default, then 2 members x 2 intervals
    second = [t for t in members if t.info["pbt"]["generation"] == 1]
    assert {t.info["pbt"]["action"] for t in second} == {"continue", "exploit"}
    exploit = next(t for t in second if t.info["pbt"]["action"] == "exploit")
    parent = study.store.trial(study.id, exploit.continue_from)
    assert exploit.start_step == 2 and exploit.cost_fte == pytest.approx(2 / 4)  # only its own 2 epochs are paid
    assert exploit.config["lr"] != parent.config["lr"]
    assert any("exploits member" in e.message for e in study.store.events(study.id, ["proposal"]))

    out = run_cli(["export", "study.yaml", "winner", "--trial", str(exploit.number)], tmp_path)
    assert out.returncode == 0, out.stderr
    exported = json.loads((tmp_path / "winner" / "schedule.json").read_text())
    chain = lineage(exploit, trials)
    assert exported["lineage"]["trials"] == [parent.number, exploit.number]
    assert exported["per_step"]["lr"] == [parent.config["lr"]] * 2 + [exploit.config["lr"]] * 2
    assert exported["lineage"]["cost_fte"] == pytest.approx(chain.cost_fte) == pytest.approx(1.0)

    report = run_cli(["report", "study.yaml", "-o", "r.html"], tmp_path)
    assert report.returncode == 0, report.stderr
    assert "lineage and schedule" in (tmp_path / "r.html").read_text()

    replay = REPLAY.replace("SCHEDULE", "winner/schedule.json")
    (tmp_path / "replay.yaml").write_text(replay)
    again = run_cli(["run", "replay.yaml"], tmp_path)
    assert again.returncode == 0, again.stderr
    replayed = Study.load("tiny-replay", tmp_path / "runs" / "tiny-replay" / "study.db")
    assert replayed.schedule is not None and replayed.schedule.to_dict() == exported["schedule"]
    (tmp_path / "replay.yaml").write_text(REPLAY.replace("SCHEDULE", "{lr: [[0, 0.01]]}"))
    changed = run_cli(["run", "replay.yaml"], tmp_path)  # the stored study replays another schedule
    assert changed.returncode == 2 and "field 'schedule'" in changed.stderr
    curve = [o for o in replayed.observations() if o.trial_number == replayed.trials()[-1].number]
    lrs = [o.metrics["lr"] for o in curve]
    assert len(lrs) == 4 and lrs[0] != lrs[2]  # the learning rate changed where the winner's did


def test_a_schedulable_shape_of_the_pipeline_is_refused_with_its_line(tmp_path: Path) -> None:
    write_tiny_table(tmp_path / "tiny.csv")
    text = YAML.replace("  epochs:", "  batch_size: {type: int, lower: 16, upper: 64, schedulable: true}\n  epochs:")
    assert text != YAML
    (tmp_path / "study.yaml").write_text(text)
    result = run_cli(["run", "study.yaml"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "structural" in result.stderr and "study.yaml:" in result.stderr
