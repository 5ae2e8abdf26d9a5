"""The Lightning callback: promotions continue a Lightning run bitwise, the scheduler stops it, mistakes are clear."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lightning.pytorch")

import torch  # noqa: E402

from metaml import Study, TrialStatus  # noqa: E402
from metaml.core.trial_context import RunSettings  # noqa: E402
from metaml.errors import TrialError  # noqa: E402
from metaml.store import Proposal  # noqa: E402
from metaml.studyfile import load_study_file  # noqa: E402
from tests.e2e.conftest import run_cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lightning_digits.yaml"
CONFIG = {"width": 32, "depth": 2, "dropout": 0.2, "optimizer": "sgd", "optimizer.sgd.momentum": 0.9,
          "lr": 0.05, "weight_decay": 1e-4, "batch_size": 64}  # fmt: skip


def _train() -> Any:
    spec = load_study_file(EXAMPLE)
    sys.path.insert(0, str(EXAMPLE.parent))
    return spec, spec.load_function()


def test_training_to_3_then_continuing_to_9_equals_training_to_9(tmp_path: Path) -> None:
    spec, train = _train()
    study = Study.create("prefix", spec.space, spec.objectives, store=tmp_path / "s.db", seed=0)
    config = spec.space.validate(CONFIG)
    study.store.enqueue(study.id, Proposal(config, 3))                    # trial 0: epochs 1-3
    study.store.enqueue(study.id, Proposal(config, 9, continue_from=0))   # trial 1: epochs 4-9 from 0's checkpoint
    study.store.enqueue(study.id, Proposal(config, 9))                    # trial 2: epochs 1-9 in one go
    records = study.optimize(train, budget=3)
    assert [r.status for r in records] == [TrialStatus.COMPLETED] * 3, [r.error for r in records]
    full = study.full_fidelity
    assert records[1].start_step == 3 and abs(records[1].cost_fte - 6 / full) < 1e-9  # paid only epochs 4-9
    assert abs(records[2].cost_fte - 9 / full) < 1e-9

    def lightning_state(number: int) -> dict[str, Any]:
        payload = torch.load(study.trial_directory(number) / "checkpoint.pt", weights_only=True)
        return payload["states"]["lightning"]["checkpoint"]  # type: ignore[no-any-return]

    continued, direct = lightning_state(1), lightning_state(2)
    assert continued["epoch"] == direct["epoch"] and continued["global_step"] == direct["global_step"]
    assert continued["state_dict"].keys() == direct["state_dict"].keys()
    for key, value in direct["state_dict"].items():
        assert torch.equal(continued["state_dict"][key], value), key
    for a, b in zip(continued["optimizer_states"][0]["state"].values(), direct["optimizer_states"][0]["state"].values()):
        assert all(torch.equal(a[k], b[k]) for k in b), "the optimizer's momentum differs"
    assert records[1].metrics == records[2].metrics
    curve = [(o.step, o.metrics["val_error"]) for o in study.store.observations(study.id, 1)]
    assert [step for step, _ in curve] == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]  # the promotion reported only its own epochs
    direct_curve = [(o.step, o.metrics["val_error"]) for o in study.store.observations(study.id, 2)]
    assert curve == direct_curve[3:]


@pytest.mark.slow  # over 10 s: in `make slow`
def test_the_example_tuned_with_bohb_promotes_by_continuing_checkpoints(tmp_path: Path) -> None:
    for name in ("lightning_digits.yaml", "lightning_digits.py"):
        (tmp_path / name).write_text((EXAMPLE.parent / name).read_text())
    result = run_cli(["run", "lightning_digits.yaml", "--budget", "fte=2", "--quiet"], tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    study = Study.load("lightning_digits", tmp_path / "runs" / "lightning_digits" / "study.db")
    assert study.optimizer.name == "bohb"
    trials = {t.number: t for t in study.trials()}
    promoted = [t for t in trials.values() if t.continue_from is not None]
    assert promoted, "bohb promoted nothing within 2 FTE"
    for t in promoted:
        parent = trials[t.continue_from]  # type: ignore[index]
        assert t.status is TrialStatus.COMPLETED and t.start_step == parent.fidelity  # restored the parent's state
    assert study.cost_fte() <= 2.0 + 1e-9


class _Trial:
    """A trial context in memory whose scheduler asks to stop after ``stop_after`` steps."""

    def __init__(self, fidelity: int, stop_after: int | None = None) -> None:
        self.number = 0
        self.config: Mapping[str, Any] = {}
        self.fidelity = fidelity
        self.max_fidelity = fidelity
        self.directory = None
        self.objective_names = ("val_error",)
        self.run_settings = RunSettings()
        self.info: Mapping[str, Any] = {}
        self.stop_after = stop_after
        self.points: list[tuple[float, dict[str, Any]]] = []
        self.saved: list[float] = []

    def report(self, step: float, **metrics: Any) -> None:
        self.points.append((step, metrics))

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.points) >= self.stop_after

    def checkpoint(self, step: float, **objects: Any) -> None:
        self.saved.append(step)

    def restore(self, **objects: Any) -> int:
        return 0


def _fit(trial: _Trial, restore: bool = True) -> Any:
    import lightning.pytorch as pl

    sys.path.insert(0, str(EXAMPLE.parent))
    example = importlib.import_module("lightning_digits")
    from metaml.integrations.lightning import MetamlCallback

    train_set, val_set = example.datasets()
    model = example.DigitsMLP({**CONFIG}, full_epochs=trial.fidelity)
    callback = MetamlCallback(trial)
    trainer = pl.Trainer(max_epochs=10, callbacks=[callback], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)  # fmt: skip
    loader = torch.utils.data.DataLoader(train_set, batch_size=256, shuffle=True)
    trainer.fit(model, loader, torch.utils.data.DataLoader(val_set, batch_size=512),
                ckpt_path=callback.restore() if restore else None)  # fmt: skip
    return trainer, callback


def test_should_stop_stops_the_trainer_and_every_validation_epoch_is_reported() -> None:
    trial = _Trial(fidelity=5, stop_after=2)
    trainer, callback = _fit(trial)
    assert [step for step, _ in trial.points] == [1, 2] and trainer.current_epoch == 2
    assert trial.saved == [1, 2]
    assert "val_error" in trial.points[0][1] and callback.metrics == trial.points[-1][1]


def test_the_trial_fidelity_ends_the_fit_even_when_max_epochs_is_longer() -> None:
    trial = _Trial(fidelity=3)
    trainer, _ = _fit(trial)
    assert [step for step, _ in trial.points] == [1, 2, 3] and trainer.current_epoch == 3


def test_fit_without_restore_says_how_to_continue_a_promotion() -> None:
    with pytest.raises(TrialError, match=r"ckpt_path=callback.restore\(\)"):
        _fit(_Trial(fidelity=2), restore=False)


def test_a_missing_lightning_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from metaml.integrations import MissingExtraError

    monkeypatch.setitem(sys.modules, "lightning.pytorch", None)  # what an environment without Lightning imports
    monkeypatch.delitem(sys.modules, "metaml.integrations.lightning", raising=False)
    with pytest.raises(MissingExtraError, match=r"pip install 'metaml\[lightning\]'"):
        importlib.import_module("metaml.integrations.lightning")
