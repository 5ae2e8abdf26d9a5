"""The progress display: its fields from a real small study, status --json's choice and budget, the banner."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from metaml import Study
from metaml.budget import Budget
from metaml.cli import app
from metaml.progress import budget_dict, optimizer_choice, progress_line, progress_text
from metaml.space import Float, Space


def _study(tmp_path: Path, objectives: list[str] | None = None) -> Study:
    space = Space({"x": Float(0.0, 1.0)})
    return Study.create("p", space, objectives or ["loss"], store=tmp_path / "s.db", seed=0, optimizer="random")


def test_the_display_shows_trials_fte_of_the_budget_time_and_the_best(tmp_path: Path) -> None:
    study = _study(tmp_path)
    study.optimize(lambda config: {"loss": config["x"]}, budget=5)
    best = study.best()
    assert best is not None
    console = Console(record=True, width=200)
    console.print(progress_text(study, Budget(fte=10), time.time() - 30))
    out = console.export_text()
    assert "trials 5 done, 0 running, 0 failed" in out
    spent = study.cost_fte()
    assert f"FTE {spent:.2f}/10" in out
    assert f"{spent / 10:.0%} of 10" in out  # the bar's share
    assert "elapsed 0:00:30" in out and "left ~" in out
    assert f"best loss={best.metrics['loss']:.4g} (trial {best.number})" in out  # type: ignore[index]


def test_several_objectives_show_the_front(tmp_path: Path) -> None:
    study = _study(tmp_path, ["a", "b"])
    study.optimize(lambda config: {"a": config["x"], "b": 1 - config["x"]}, budget=4)
    line = progress_line(study, Budget(trials=4), time.time())
    assert f"front {len(study.pareto_front())} trials, hypervolume" in line


def test_budget_and_choice_say_what_is_spent_and_what_auto_chose(tmp_path: Path) -> None:
    study = _study(tmp_path)
    study.optimize(lambda config: {"loss": config["x"]}, budget=3)
    data = budget_dict(Budget(trials=10, fte=5), study.trials())
    assert data["trials"] == 10 and data["trials_spent"] == 3 and data["trials_left"] == 7
    assert data["fte_left"] == pytest.approx(5 - study.cost_fte())
    auto = Study.create("a", Space({"x": Float(0.0, 1.0)}), ["loss"], store=tmp_path / "a.db", seed=0, optimizer="auto")
    choice = optimizer_choice(auto.optimizer)
    assert choice["name"] == "auto" and choice["chosen"] and choice["why"]


def test_optimize_with_progress_runs_and_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = _study(tmp_path)
    done = study.optimize(lambda config: {"loss": config["x"]}, budget=3, progress=True)
    assert len(done) == 3
    assert "trials 3 done" in capsys.readouterr().out


def test_status_json_holds_the_choice_and_the_budget_and_the_banner_says_why(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("def train(config):\n    return {'loss': config['x']}\n")
    (tmp_path / "s.yaml").write_text(textwrap.dedent("""\
        name: banner
        function: train:train
        space: {x: {type: float, lower: 0.0, upper: 1.0}}
        objectives: [loss]
        optimizer: auto
        budget: {trials: 3}
    """))
    runner = CliRunner()
    ran = runner.invoke(app, ["run", str(tmp_path / "s.yaml"), "--store", str(tmp_path / "b.db")])
    assert ran.exit_code == 0, ran.output
    study = Study.load("banner", tmp_path / "b.db")
    choice = optimizer_choice(study.optimizer)
    assert f"auto chose {choice['chosen']} ({choice['why']})" in " ".join(ran.output.split())
    status = runner.invoke(app, ["status", "--store", str(tmp_path / "b.db"), "--study", "banner", "--json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert data["optimizer_choice"] == choice
    assert data["budget"]["trials"] == 3 and data["budget"]["trials_left"] == 0
    assert data["budget"]["fte_spent"] == pytest.approx(study.cost_fte())


def test_the_clock_and_the_eta_move_between_reads_without_reading_the_store_again() -> None:
    from metaml.progress import format_line, ticked

    started = time.time() - 100
    read = {"done": 1, "failed": 0, "running": [], "fte": 1.0, "budget_fte": 2.0, "elapsed": 40.0, "eta": 40.0,
            "best": "best -"}
    later = ticked(read, started, read_at=time.time() - 30)
    assert later["elapsed"] == pytest.approx(100, abs=2)
    assert later["eta"] == pytest.approx(10, abs=2)  # counted down by the 30 s since the read
    assert "elapsed 0:01:40" in format_line(later) or "elapsed 0:01:41" in format_line(later)
    assert ticked(dict(read, eta=None), started, time.time())["eta"] is None
