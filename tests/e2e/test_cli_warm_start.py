"""``metaml run`` of a study file with ``warm_start:``: it learns from the first study, pays only its own trials."""

from __future__ import annotations

import textwrap
from pathlib import Path

from metaml import Study, TrialStatus
from tests.e2e.conftest import run_cli

SPACE = """\
space:
  x: {type: float, lower: 0.0, upper: 1.0}
  n: {type: int, lower: 1, upper: 8, log: true}
  kind: {type: categorical, choices: [a, b]}
  epochs: {type: fidelity, lower: 1, upper: 9}
objectives:
  - {name: loss, goal: min}
store: s.db
"""


def _write(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.yaml").write_text(f"name: {name}\nfunction: tiny:train\nseed: 1\n" + SPACE + textwrap.dedent(body))


def _fte_to(study: Study, value: float) -> float | None:
    """The FTE spent when a full-fidelity result first reached ``value`` (None: never)."""
    spent = 0.0
    for t in study.trials():
        spent += t.cost_fte
        if t.status is TrialStatus.COMPLETED and t.fidelity == 9 and t.metrics and t.metrics["loss"] <= value + 1e-12:
            return spent
    return None


def test_a_warm_started_run_reaches_the_first_studys_best_sooner_and_pays_only_its_own(study_dir: Path) -> None:
    _write(study_dir, "first", "optimizer: hyperband\nbudget: {fte: 4}\n")
    _write(study_dir, "second", """\
        optimizer: {name: transfer, base: hyperband}
        warm_start:
          - {study: first}
        budget: {fte: 2}
        """)
    assert run_cli(["run", "first.yaml"], study_dir).returncode == 0
    result = run_cli(["run", "second.yaml"], study_dir)
    assert result.returncode == 0, result.stderr

    first = Study.load("first", study_dir / "s.db")
    second = Study.load("second", study_dir / "s.db")
    # provenance: the earlier study named, with its identity, in the metadata and the decision log
    [source] = second.metadata.warm_start["sources"]  # type: ignore[index]
    assert source["name"] == "first" and source["uid"] == first.uid and source["n_trials"] == len(first.trials())
    [event] = second.events(["warm_start"])
    assert "first" in event.message and event.data["sources"][0]["uid"] == first.uid
    # 0 FTE for what was learnt: the cost is the second study's own trials, within its own budget
    mine = second.trials()
    assert mine and all(t.imported is None for t in mine)
    assert abs(second.cost_fte() - sum(t.cost_fte for t in mine)) < 1e-9 and second.cost_fte() <= 2 + 1e-9
    assert {t.number for t in second.pareto_front()} <= {t.number for t in mine}
    assert mine[0].info["transfer"]["method"] == "portfolio"
    # and it reaches the first study's best in fewer FTE than the first study took
    best = first.best()
    assert best is not None and best.metrics is not None
    took_first, took_second = _fte_to(first, best.metrics["loss"]), _fte_to(second, best.metrics["loss"])
    assert took_first is not None and took_second is not None and took_second < took_first
