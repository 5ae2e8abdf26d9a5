"""A multi-objective study on a scheduler that ranks on the first objective only is warned, in the banner and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli, study_yaml


def _warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.lower().startswith("warning")]


@pytest.mark.parametrize("optimizer,warned", [("hyperband", True), ("moasha", False)])
def test_the_run_banner_and_the_report_say_when_the_second_objective_never_steers(
    study_dir: Path, optimizer: str, warned: bool
) -> None:
    (study_dir / "study.yaml").write_text(study_yaml(trials=4, extra=f"optimizer: {{name: {optimizer}, eta: 2}}\n"))
    result = run_cli(["run", "study.yaml"], study_dir)
    assert result.returncode == 0, result.stderr
    banner = _warnings(result.stdout + result.stderr)
    if warned:  # the objectives are loss (first) and size
        assert len(banner) == 1 and "size" in banner[0], result.stdout
    else:
        assert banner == [], result.stdout

    # the report reads only the store: the same warning comes from the stored optimizer and objectives
    report = run_cli(["report", "study.yaml", "--json", "--output", str(study_dir / "r.html")], study_dir)
    assert report.returncode == 0, report.stderr
    stored = json.loads(report.stdout)["optimizer"]["warning"]
    assert (stored is not None) is warned
    html = (study_dir / "r.html").read_text()
    if warned:
        assert stored in banner[0] and stored in html
