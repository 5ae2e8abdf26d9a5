"""freeze_thaw through the real CLI: the quickstart on 2 workers, runs continued from their checkpoints, costs that add up."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaml import Study
from tests.e2e.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"


ACTIVATION = "activation: {type: categorical, choices: [relu, tanh, gelu]}"
#: The curve network reads at most 12 encoded dimensions; the quickstart's space has 15, 12 with a fixed activation.
NARROWER = {ACTIVATION: "activation: {type: constant, value: relu}"}


@pytest.mark.slow  # over 10 s: in `make slow`
@pytest.mark.parametrize(("optimizer", "edits"), [("freeze_thaw", {}),
                                                  ("{name: freeze_thaw, curve_network: true}", NARROWER)])
def test_quickstart_with_freeze_thaw_on_two_workers_continues_checkpoints_and_charges_each_epoch_once(
    tmp_path: Path, optimizer: str, edits: dict[str, str]
) -> None:
    text = QUICKSTART.read_text().replace("optimizer: random", f"optimizer: {optimizer}")
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "ft.yaml").write_text(text.replace("name: quickstart", "name: quickstart-ft"))
    (tmp_path / "quickstart.py").write_text((QUICKSTART.parent / "quickstart.py").read_text())
    result = run_cli(["run", "ft.yaml", "--workers", "2", "--budget", "fte=2"], tmp_path, timeout=280)
    assert result.returncode == 0, result.stderr
    study = Study.load("quickstart-ft", tmp_path / "runs" / "quickstart-ft" / "study.db")
    assert study.optimizer.name == "freeze_thaw"
    trials = study.trials()
    by_number = {t.number: t for t in trials}
    full = study.optimizer.full_fidelity
    assert full == 20
    promoted = [t for t in trials if t.continue_from is not None]
    assert promoted, "freeze_thaw continued no run within 2 FTE"
    view = study.view()
    for t in promoted:
        parent = by_number[t.continue_from]
        assert t.config == parent.config and t.fidelity > parent.fidelity
        assert t.start_step == parent.fidelity  # it restored the parent's checkpoint
        assert abs(t.cost_fte - (t.fidelity - parent.fidelity) / full) < 1e-9  # and paid only the extra epochs
        steps = [o.step for o in view.curve(t.number)]
        assert steps == [float(s) for s in range(int(parent.fidelity) + 1, int(t.fidelity) + 1)]
    # the store's costs add up: every trial charged for the epochs it trained, the total within the strict budget
    for t in trials:
        assert abs(t.cost_fte - ((t.end_step or 0) - (t.start_step or 0)) / full) < 1e-9
    assert abs(sum(t.cost_fte for t in trials) - study.cost_fte()) < 1e-9
    assert study.cost_fte() <= 2.0 + 1e-9
    assert any(t.fidelity == full and t.metrics for t in trials), "no trained pipeline at the full fidelity"
    reasons = [t.info for t in promoted]
    assert all(info.get("run") is not None for info in reasons)


def test_curve_network_on_the_whole_quickstart_space_is_refused_before_any_trial_with_what_to_do(
    tmp_path: Path,
) -> None:
    text = QUICKSTART.read_text().replace("optimizer: random", "optimizer: {name: freeze_thaw, curve_network: true}")
    (tmp_path / "ft.yaml").write_text(text)
    (tmp_path / "quickstart.py").write_text((QUICKSTART.parent / "quickstart.py").read_text())
    result = run_cli(["run", "ft.yaml"], tmp_path)
    assert result.returncode == 2
    assert "curve_network reads spaces of at most 12 encoded dimensions; this one has 15" in result.stderr
    assert "leave curve_network off" in result.stderr and "one per choice" in result.stderr
    assert not (tmp_path / "runs").exists()  # refused when the YAML is read: no study was made
