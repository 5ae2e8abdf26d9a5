"""one_epoch with ``rank_by: trend`` through the real CLI: the screens' curves judge, the best continues from its checkpoint."""

from __future__ import annotations

from pathlib import Path

from metaml import Study
from tests.e2e.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"
OPTIMIZER = "optimizer: {name: one_epoch, rank_by: trend, min_fidelity: 3, per_round: 4}"


def test_quickstart_with_one_epoch_by_trend_continues_the_best_trend_from_its_checkpoint(tmp_path: Path) -> None:
    text = QUICKSTART.read_text().replace("optimizer: random", OPTIMIZER).replace("name: quickstart", "name: qs-trend")
    (tmp_path / "oe.yaml").write_text(text)
    (tmp_path / "quickstart.py").write_text((QUICKSTART.parent / "quickstart.py").read_text())
    result = run_cli(["run", "oe.yaml", "--budget", "fte=1.5"], tmp_path, timeout=200)
    assert result.returncode == 0, result.stderr
    study = Study.load("qs-trend", tmp_path / "runs" / "qs-trend" / "study.db")
    assert study.optimizer.settings["rank_by"] == "trend"
    trials = study.trials()
    promoted = [t for t in trials if t.continue_from is not None]
    assert len(promoted) == 1 and promoted[0].fidelity == 20
    parent = next(t for t in trials if t.number == promoted[0].continue_from)
    assert promoted[0].start_step == parent.fidelity == 3  # restored from the screen's checkpoint
    # judged by the trend of its 3-epoch curve (val_error has one; n_params, reported only at the end, does not)
    assert set(promoted[0].info["trend"]) == {"val_error"}
    assert abs(sum(t.cost_fte for t in trials) - study.cost_fte()) < 1e-9 and study.cost_fte() <= 1.5 + 1e-9
