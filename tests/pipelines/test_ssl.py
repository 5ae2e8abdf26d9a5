"""Self-supervised pretraining of the vision pipeline: the pretext tasks, the data it sees, once per trial, charged.

The prefix, continuation and determinism checks with SSL switched on are in the
conformance suite (``test_conformance.py``), beside those of every other choice.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from metaml.core.records import DETAILS_KEY
from metaml.pipelines import ssl, vision
from metaml.pipelines.training import Arrays, Hooks, fit
from metaml.store import Proposal, TrialStatus
from tests.pipelines.conftest import PipelineCase, run_trials

ROTATION = {"ssl": "rotation", "ssl.rotation.epochs": 2}


def test_rotations_turn_each_image_counterclockwise_and_label_the_turn() -> None:
    x = torch.zeros(2, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0  # top left
    x[1, 0, 0, 3] = 1.0  # top right
    turned, labels = ssl.rotations(x)
    assert turned.shape == (8, 1, 4, 4) and labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    where = [tuple(int(i) for i in torch.nonzero(img[0])[0]) for img in turned]
    # a quarter turn counterclockwise takes the top left to the bottom left, the top right to the top left
    assert where == [(0, 0), (0, 3), (3, 0), (0, 0), (3, 3), (3, 0), (0, 3), (3, 3)]
    for k in range(4):
        assert torch.equal(turned[2 * k : 2 * k + 2], torch.rot90(x, k, dims=(2, 3)))


def test_nt_xent_is_low_when_each_view_matches_its_partner_only() -> None:
    z = torch.eye(4) * 10
    assert float(ssl.nt_xent(z, z, 0.1)) < 1e-3
    shuffled = float(ssl.nt_xent(z, z[[1, 2, 3, 0]], 0.1))
    assert shuffled > 5.0  # each view's partner looks like a stranger


def test_labelled_rows_keeps_that_many_labels_stratified_and_the_rest_unlabeled() -> None:
    full = vision.prepare("digits", 0, None)
    part = vision.prepare("digits", 0, None, 200)
    assert full.unlabeled is None and part.unlabeled is not None
    assert abs(len(part.train) - 200) <= 5 and len(part.train) + len(part.unlabeled) == len(full.train)
    counts = np.bincount(part.train.y.numpy(), minlength=10)
    assert counts.min() >= 17 and counts.max() <= 23  # about 20 of each digit
    # the two sets are the training images, split: no image in both, none lost
    rows = {tuple(r) for r in part.unlabeled_images().flatten(1).numpy().round(6).tolist()}
    assert rows == {tuple(r) for r in full.train.inputs[0].flatten(1).numpy().round(6).tolist()}
    assert part.mean == full.mean and part.std == full.std  # pixel statistics need no label
    assert part.provenance()["unlabeled_rows"] == len(part.unlabeled)
    assert torch.equal(part.val.y, full.val.y) and torch.equal(part.test.y, full.test.y)


def test_a_datasets_own_unlabeled_pool_joins_the_unlabeled_images(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from metaml.pipelines import vision_data

    real = vision_data.load_images("digits", 0)
    pool = np.ones((7, *real.shape), dtype=np.float32)
    monkeypatch.setattr(vision, "load_images", lambda name, seed: dataclasses.replace(real, unlabeled_x=pool))
    data = vision.prepare.__wrapped__("digits", 0, None, 100)  # not the cached one
    assert data.unlabeled is not None and len(data.unlabeled) == len(real.train_y) - len(data.train) + 7
    assert torch.equal(data.unlabeled[-7:], torch.from_numpy(pool))
    alone = vision.prepare.__wrapped__("digits", 0, None, None)
    assert alone.unlabeled is not None and len(alone.unlabeled) == 7 and len(alone.train) == len(real.train_y)


def test_pretraining_is_a_function_of_seed_and_config_and_leaves_the_global_random_state() -> None:
    data = vision.prepare("digits", 0, 64)
    cfg = vision.resolve(ROTATION)
    first = vision._model(cfg, data, 0, torch.device("cpu"))
    second = vision._model(cfg, data, 0, torch.device("cpu"))
    untouched = {k: v.clone() for k, v in first.state_dict().items()}
    state = torch.random.get_rng_state()
    done = ssl.pretrain(cfg, first, data.unlabeled_images(), 0, torch.device("cpu"))
    assert torch.equal(torch.random.get_rng_state(), state)
    ssl.pretrain(cfg, second, data.unlabeled_images(), 0, torch.device("cpu"))
    assert done["epochs"] == 2 and done["images"] == len(data.train) and np.isfinite(done["loss"])
    after = first.state_dict()
    for name, value in after.items():
        assert torch.equal(value, second.state_dict()[name]), name
    changed = {n for n in after if not torch.equal(after[n], untouched[n])}
    assert any(n.startswith("features.") for n in changed)
    assert not any(n.startswith("classifier.") for n in changed)  # the pretext head is not the classifier


def test_ssl_none_trains_exactly_as_without_the_stage(tmp_path: Path) -> None:
    data = vision.prepare("digits", 0, 64)
    cfg = vision.resolve({"dataset": "digits", "train_rows": 64})
    assert cfg["ssl"] == "none" and vision._pretrainer(cfg, data, 0) is None

    class Fresh:  # a stand-in trial: trains from scratch, keeps nothing
        fidelity, max_fidelity, info, number, config = 2, 2, {}, 0, cfg

        def restore(self, **objects: Any) -> int:
            return 0

        def report(self, step: float, **metrics: Any) -> None: ...
        def checkpoint(self, step: float, **objects: Any) -> None: ...
        def should_stop(self) -> bool:
            return False

        def config_at(self, step: float) -> Any:
            return cfg

    def trained(hooks: Hooks) -> dict[str, torch.Tensor]:
        model = vision._model(cfg, data, 0, torch.device("cpu"))
        fit(cfg, Fresh(), model, data.train, data.val, hooks, 0, torch.device("cpu"))  # type: ignore[arg-type]
        return model.state_dict()

    calls: list[int] = []

    def nothing(model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        calls.append(1)
        return {}

    plain, hooked = trained(Hooks()), trained(Hooks(pretrain=nothing))
    assert calls == [1] and all(torch.equal(plain[k], hooked[k]) for k in plain)


def _count_pretraining(monkeypatch: pytest.MonkeyPatch, pause: float = 0.0) -> list[int]:
    calls: list[int] = []
    original = ssl.pretrain

    def counted(*args: Any, **kwargs: Any) -> dict[str, float]:
        calls.append(1)
        time.sleep(pause)  # stands for a long pretext stage: its time must land in the trial's
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "pretrain", counted)
    return calls


def test_the_ssl_stage_runs_once_per_trial_and_not_again_on_continuation(
    vision_case: PipelineCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_pretraining(monkeypatch)
    space = vision_case.space(epochs=4)
    config = vision_case.config(ROTATION, space)
    proposals = [Proposal(config, 2), Proposal(config, 4, continue_from=0)]
    study, records = run_trials(vision_case, space, proposals, tmp_path)
    assert [r.status for r in records] == [TrialStatus.COMPLETED] * 2, [r.error for r in records]
    assert calls == [1] and records[1].start_step == 2
    first = records[0].info[DETAILS_KEY]["ssl"]
    assert first["epochs"] == 2 and first["images"] == len(vision.prepare("digits", 0, 64).train)
    assert "ssl" not in records[1].info.get(DETAILS_KEY, {})  # the continuation paid only its own epochs


def test_the_ssl_stage_is_charged_in_the_trials_recorded_time(
    vision_case: PipelineCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _count_pretraining(monkeypatch, pause=0.5)
    space = vision_case.space(epochs=2)
    study, (record,) = run_trials(vision_case, space, [Proposal(vision_case.config(ROTATION, space), 1)], tmp_path)
    assert record.status is TrialStatus.COMPLETED, record.error
    assert record.info[DETAILS_KEY]["ssl"]["seconds"] >= 0.5
    assert (record.duration or 0.0) >= 0.5
    # the resources checkpointed with the trial (energy_wh's basis, carried over on promotion) include it
    payload = torch.load(study.trial_directory(record.number) / "checkpoint.pt", weights_only=True)
    assert payload["states"]["progress"]["wall_seconds"] >= 0.5


def test_a_diverging_pretext_stage_fails_the_trial_with_a_clear_message(
    vision_case: PipelineCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = vision.prepare("digits", 0, 64)
    images = data.train.inputs[0].clone()
    images[0, 0, 0, 0] = float("inf")
    broken = vision.Prepared(**{**data.__dict__, "train": Arrays((images,), data.train.y)})
    monkeypatch.setattr(vision, "prepare", lambda *args: broken)
    space = vision_case.space(epochs=2)
    _, (record,) = run_trials(vision_case, space, [Proposal(vision_case.config(ROTATION, space), 1)], tmp_path)
    assert record.status is TrialStatus.FAILED
    assert (record.error or "").startswith("DivergedError: self-supervised pretraining (rotation) diverged")


def test_lookahead_restarts_its_slow_weights_from_the_pretrained_ones() -> None:
    from metaml.pipelines.regularization import Lookahead

    layer = torch.nn.Linear(2, 2)
    lookahead = Lookahead(list(layer.parameters()), k=1, alpha=0.5)
    with torch.no_grad():
        layer.weight.add_(1.0)  # what pretraining does to the model after the loop built its state
    lookahead.reset()
    before = layer.weight.detach().clone()
    lookahead.step()  # a sync right away: slow and fast agree, so nothing is pulled back to the old weights
    assert torch.equal(layer.weight, before)
