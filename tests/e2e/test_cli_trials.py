"""`metaml trials` shows each trial's configuration and, for a failed one, what went wrong; the spent budget is
summed exactly (`status --json` said 7.999999999999999 FTE of 8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from metaml import Study
from metaml.cli import app
from metaml.space import Categorical, Fidelity, Float, Space
from metaml.store import Proposal


def _train(config: dict[str, Any]) -> dict[str, float]:
    if config["x"] > 0.5:
        raise ValueError(f"boom: x={config['x']:.3f} is too big")
    return {"loss": config["x"]}


def _study(tmp_path: Path) -> Study:
    space = Space({"x": Float(0.0, 1.0), "mode": Categorical(["fast", "slow"])})
    study = Study.create("t", space, ["loss"], store=tmp_path / "s.db", seed=0, optimizer="random")
    study.optimize(_train, budget=6)
    return study


def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A console wide enough for every column (its width is fixed when the first test prints)."""
    from metaml.cli import common

    monkeypatch.setattr(common.console, "_width", 250)


def test_the_table_shows_the_configuration_and_the_last_line_of_each_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _wide(monkeypatch)
    study = _study(tmp_path)
    records = study.trials()
    failed = [t for t in records if t.error]
    assert failed and len(failed) < len(records)  # both kinds in the table
    result = CliRunner().invoke(app, ["trials", "--store", str(tmp_path / "s.db"), "--study", "t"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for t in records:
        row = next(line for line in lines if line.startswith(f"│ {t.number} "))
        assert f"x={t.config['x']:.4g}, mode={t.config['mode']}" in row
        if t.error:
            assert f"ValueError: boom: x={t.config['x']:.3f} is too big" in row and "Traceback" not in row
    assert "--csv or --json" in result.output


def test_a_study_without_failures_has_no_error_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _wide(monkeypatch)
    study = Study.create("ok", Space({"x": Float(0.0, 1.0)}), ["loss"], store=tmp_path / "s.db", seed=0)
    study.optimize(lambda config: {"loss": config["x"]}, budget=2)
    result = CliRunner().invoke(app, ["trials", "--store", str(tmp_path / "s.db"), "--study", "ok"])
    assert result.exit_code == 0 and "configuration" in result.output and "error" not in result.output


def test_status_sums_the_fte_spent_exactly(tmp_path: Path) -> None:
    space = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 10)})
    study = Study.create("f", space, ["loss"], store=tmp_path / "s.db", seed=0, optimizer="random")
    for _ in range(10):  # ten trials of 1 of 10 epochs: 0.1 FTE each, which sum() adds up to 0.9999999999999999
        study.store.enqueue(study.id, Proposal(space.sample(np.random.default_rng(0)), 1))
    study.optimize(lambda config: {"loss": config["x"]}, budget=10)
    assert sum(t.cost_fte for t in study.trials()) != 1.0
    status = CliRunner().invoke(app, ["status", "--store", str(tmp_path / "s.db"), "--study", "f", "--json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert data["fte"] == 1.0 and data["budget"]["fte_spent"] == 1.0
