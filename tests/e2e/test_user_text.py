"""What users type (study names, categorical choices, objective names) is printed as text, never as Rich markup."""

from __future__ import annotations

from pathlib import Path

from metaml import Categorical, Float, Objective, Study
from metaml.space import Space
from tests.e2e.conftest import run_cli

NAME = "lab[red]x"
CHOICE = "[bold]fast"


def test_status_pareto_trials_and_studies_print_user_text_as_it_is(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    space = Space({"x": Float(0.0, 1.0), "mode": Categorical([CHOICE, "slow"])})
    study = Study.create(NAME, space, [Objective("loss[1]")], store=store, seed=0)
    study.optimize(lambda config: {"loss[1]": config["x"]}, budget=4)
    for command in (["status"], ["pareto"], ["trials"]):
        result = run_cli([*command, "--store", str(store), "--study", NAME], tmp_path)
        assert result.returncode == 0, result.stderr
        assert NAME in result.stdout, (command, result.stdout)
    front = run_cli(["pareto", "--store", str(store), "--study", NAME], tmp_path).stdout
    best = study.best()
    assert best is not None and "loss[1]" in front
    assert f"mode={best.config['mode']}" in front  # the config cell, markup and all
    listed = run_cli(["studies", "--store", str(store)], tmp_path)
    assert listed.returncode == 0 and NAME in listed.stdout
