"""`metaml run` of a tiny fairness study with a small group: warned before the first trial, audited in the store,
shown by `metaml pareto` and the report; a reference group the data lacks is refused before anything is stored."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from metaml import Study
from tests.e2e.conftest import run_cli

YAML = textwrap.dedent("""\
    name: audit
    function: metaml.pipelines.tabular:train
    seed: 0
    space:
      dataset: {type: constant, value: groups.csv}
      target: {type: constant, value: label}
      sensitive: {type: constant, value: race}
      metric_settings: {type: constant, value: {demographic_parity_difference: {min_group_size: 20}}}
      lr: {type: float, lower: 1.0e-3, upper: 1.0e-2, log: true}
      epochs: {type: fidelity, lower: 1, upper: 1}
    objectives:
      - {name: val_error, goal: min}
      - {name: demographic_parity_difference, goal: min}
    optimizer: random
    budget: {trials: 2}
    execution: {threads: 1}
    """)


def _table(path: Path) -> None:
    """400 rows, groups big (70%), mid (25%) and tiny (5%: a handful of rows per split)."""
    rng = np.random.default_rng(0)
    n = 400
    race = rng.choice(["big", "mid", "tiny"], n, p=[0.7, 0.25, 0.05])
    x = rng.normal(size=n)
    label = (x + 0.5 * (race == "big") + rng.normal(0, 0.5, n) > 0.3).astype(int)
    pd.DataFrame({"x": x, "z": rng.normal(size=n), "race": race, "label": label}).to_csv(path, index=False)


def test_small_groups_are_warned_stored_and_shown(tmp_path: Path) -> None:
    _table(tmp_path / "groups.csv")
    (tmp_path / "study.yaml").write_text(YAML)
    run = run_cli(["run", "study.yaml"], tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    warned = [i for i, line in enumerate(lines) if "compares the groups of 'race'; in the validation split" in line]
    first_trial = next(i for i, line in enumerate(lines) if line.startswith("trial 0 @"))
    assert warned and warned[0] < first_trial and "'tiny'" in lines[warned[0]]  # before any training

    study = Study.load("audit", tmp_path / "runs" / "audit" / "study.db")
    stored = study.trials()[0].details
    breakdown = stored["fairness"]["demographic_parity_difference"]
    sizes = {g["group"]: g["n"] for g in breakdown["groups"]}
    assert set(sizes) == {"big", "mid", "tiny"} and sum(sizes.values()) == stored["intervals"]["val_error"]["n"]
    assert breakdown["small_groups"] == ["tiny"] and breakdown["min_group_size"] == 20
    assert breakdown["value"] == study.trials()[0].metrics["demographic_parity_difference"]  # type: ignore[index]
    interval = stored["intervals"]["demographic_parity_difference"]
    assert interval["low"] <= breakdown["value"] <= interval["high"] and interval["resamples"] == 200

    shown = run_cli(["pareto", "study.yaml"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "sets the gap" in shown.stdout and "under 20 rows" in shown.stdout
    assert "warning: demographic_parity_difference on the validation split: group(s) 'tiny'" in shown.stdout
    data = json.loads(run_cli(["pareto", "study.yaml", "--json"], tmp_path).stdout)
    front = data["front"][0]
    assert front["intervals"]["val_error"]["high"] >= front["metrics"]["val_error"] >= front["intervals"]["val_error"]["low"]
    assert front["fairness"]["demographic_parity_difference"]["small_groups"] == ["tiny"]
    assert "small_groups" in {c["kind"] for c in data["caveats"]}
    assert all("test_error" in r["intervals"] for r in data["test"]["results"] if r["metrics"])

    report = run_cli(["report", "study.yaml", "--json", "-o", "r.html"], tmp_path)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["caveats"] == data["caveats"]
    html = (tmp_path / "r.html").read_text()
    assert "Read the front with care" in html and "The groups behind the fairness numbers" in html


def test_a_reference_group_the_data_lacks_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    _table(tmp_path / "groups.csv")
    bad = YAML.replace("{min_group_size: 20}", "{reference: white}")
    (tmp_path / "study.yaml").write_text(bad)
    run = run_cli(["run", "study.yaml"], tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "'white' is not in the training split" in run.stderr and "big (" in run.stderr
    assert not (tmp_path / "runs" / "audit" / "study.db").exists()


def test_a_missing_data_file_is_named_as_such_not_as_a_groups_problem(tmp_path: Path) -> None:
    import pytest

    from metaml.errors import StudyFileError
    from metaml.pipelines.baseline import check_sensitive_groups
    from metaml.space import Constant, Space

    missing = tmp_path / "nope" / "data.csv"
    space = Space({"dataset": Constant(str(missing)), "target": Constant("label"), "sensitive": Constant("race")})
    with pytest.raises(StudyFileError) as caught:
        check_sensitive_groups("metaml.pipelines.tabular:train", space)
    assert str(caught.value).startswith(f"no data file at {missing}") and "sensitive groups" not in str(caught.value)
