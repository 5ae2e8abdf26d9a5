"""The main job: the quickstart example runs end to end, and its training keeps the prefix invariant."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from metaml import Study, TrialStatus
from metaml.store import Proposal
from metaml.studyfile import load_study_file
from tests.e2e.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"


def test_quickstart_runs_and_pareto_json_lists_the_front(tmp_path: Path) -> None:
    result = run_cli(["run", str(QUICKSTART), "--budget", "trials=3"], tmp_path)
    assert result.returncode == 0, result.stderr
    out = run_cli(["pareto", str(QUICKSTART), "--json"], tmp_path)
    front = json.loads(out.stdout)["front"]
    assert front and all({"val_error", "n_params"} <= set(t["metrics"]) for t in front)
    assert all(0.0 <= t["metrics"]["val_error"] <= 1.0 for t in front)


def test_training_to_3_then_continuing_to_9_equals_training_to_9(tmp_path: Path) -> None:
    spec = load_study_file(QUICKSTART)
    sys.path.insert(0, str(QUICKSTART.parent))
    train = spec.load_function()
    study = Study.create("prefix", spec.space, spec.objectives, store=tmp_path / "s.db", seed=0)
    config = spec.space.validate(
        {"width": 32, "depth": 2, "activation": "relu", "optimizer": "sgd", "optimizer.sgd.momentum": 0.9,
         "optimizer.sgd.nesterov": True, "lr": 0.05, "weight_decay": 1e-4, "dropout": 0.2, "batch_size": 32}
    )
    study.store.enqueue(study.id, Proposal(config, 3))                    # trial 0: epochs 1-3
    study.store.enqueue(study.id, Proposal(config, 9, continue_from=0))   # trial 1: epochs 4-9 from 0's checkpoint
    study.store.enqueue(study.id, Proposal(config, 9))                    # trial 2: epochs 1-9 in one go
    records = study.optimize(train, budget=3)
    assert [r.status for r in records] == [TrialStatus.COMPLETED] * 3
    full = study.optimizer.full_fidelity
    assert records[1].start_step == 3 and abs(records[1].cost_fte - 6 / full) < 1e-9
    assert abs(records[2].cost_fte - 9 / full) < 1e-9

    def weights(number: int) -> dict[str, torch.Tensor]:
        path = study.trial_directory(number) / "checkpoint.pt"
        return torch.load(path, weights_only=True)["states"]["model"]

    continued, direct = weights(1), weights(2)
    assert continued.keys() == direct.keys()
    for key in direct:
        assert torch.equal(continued[key], direct[key]), key
    assert records[1].metrics == records[2].metrics


def test_quickstart_with_hyperband_promotes_by_continuing_checkpoints(tmp_path: Path) -> None:
    text = QUICKSTART.read_text().replace("optimizer: random", "optimizer: {name: hyperband, eta: 3}")
    (tmp_path / "hb.yaml").write_text(text.replace("name: quickstart", "name: quickstart-hb"))
    (tmp_path / "quickstart.py").write_text((QUICKSTART.parent / "quickstart.py").read_text())
    # The default (1 FTE) and hyperband's first rung (27 one-epoch trials, 1 FTE) use 2 FTE; the
    # budget is strict, so promotions need a third.
    result = run_cli(["run", "hb.yaml", "--budget", "fte=3"], tmp_path)
    assert result.returncode == 0, result.stderr
    study = Study.load("quickstart-hb", tmp_path / "runs" / "quickstart-hb" / "study.db")
    trials = study.trials()
    promoted = [t for t in trials if t.continue_from is not None]
    assert promoted, "hyperband promoted nothing within 3 FTE"
    by_number = {t.number: t for t in trials}
    full = study.optimizer.full_fidelity
    for t in promoted:
        parent = by_number[t.continue_from]
        assert t.config == parent.config and t.fidelity > parent.fidelity
        assert t.start_step == parent.fidelity  # it restored the parent's checkpoint
        assert abs(t.cost_fte - (t.fidelity - parent.fidelity) / full) < 1e-9  # and paid only the extra epochs
    assert any("promoted" in e.message for e in study.store.events(study.id, ["proposal"]))
    assert study.cost_fte() <= 3.0 + 1e-9  # the budget is strict
