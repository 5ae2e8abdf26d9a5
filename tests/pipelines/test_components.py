"""The pieces the pipelines are built from: schedules, cocktail ingredients, augmentations, preprocessing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metaml.pipelines import augment, fairness, optim, regularization, training
from metaml.pipelines.preprocessing import TabularPreprocessor
from metaml.pipelines.tabular import subsample, tabular_cutmix
from metaml.pipelines.vision_data import read_idx, read_mnist_test


def _schedule(kind: str, warmup: float = 0.0, cycles: int = 1, full: int = 10, steps: int = 4) -> optim.LRSchedule:
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    config = {"schedule": kind, "lr": 1.0, "warmup": warmup, "schedule.step.gamma": 0.1, "schedule.one_cycle.peak_at": 0.3}
    return optim.LRSchedule(opt, config, full, steps, cycles)


def _lrs(schedule: optim.LRSchedule, n: int) -> list[float]:
    out = []
    for _ in range(n):
        out.append(schedule.apply())
        schedule.advance()
    return out


def test_schedules_follow_their_shapes_over_the_full_run() -> None:
    assert _lrs(_schedule("constant"), 40) == [1.0] * 40
    cosine = _lrs(_schedule("cosine"), 40)
    assert cosine[0] == 1.0 and all(a >= b for a, b in zip(cosine, cosine[1:])) and cosine[-1] < 0.01
    assert cosine[20] == pytest.approx(0.5)
    step = _lrs(_schedule("step"), 40)
    assert step[19] == 1.0 and step[20] == pytest.approx(0.1) and step[30] == pytest.approx(0.01)
    cycle = _lrs(_schedule("one_cycle"), 40)
    peak = int(np.argmax(cycle))
    assert cycle[0] == pytest.approx(optim.ONE_CYCLE_START) and peak == 12 and cycle[-1] < 0.01


def test_warmup_rises_linearly_then_the_schedule_runs_on_the_rest() -> None:
    lrs = _lrs(_schedule("cosine", warmup=0.2), 40)
    assert lrs[0] < lrs[4] < lrs[7] < 1.0 and lrs[8] == pytest.approx(1.0)
    assert lrs[8 + 16] == pytest.approx(0.5)  # half-way through the 32 steps after warm-up


def test_snapshot_cycles_restart_the_schedule_at_whole_epochs() -> None:
    assert optim.cycle_boundaries(10, 3) == [3, 7, 10] and optim.cycle_boundaries(2, 5) == [1, 2]
    lrs = _lrs(_schedule("cosine", cycles=2), 40)
    assert lrs[0] == 1.0 and lrs[20] == 1.0 and lrs[19] < 0.05


def test_a_restored_schedule_refuses_another_number_of_steps() -> None:
    with pytest.raises(ValueError, match="steps per epoch"):
        _schedule("cosine", steps=5).load_state_dict(_schedule("cosine", steps=4).state_dict())


def test_epoch_batches_drop_no_row_and_never_leave_a_lone_example() -> None:
    g = torch.Generator().manual_seed(0)
    batches = training.epoch_batches(65, 32, g)
    assert [len(b) for b in batches] == [33, 32]
    assert sorted(torch.cat(batches).tolist()) == list(range(65))
    assert len(training.epoch_batches(5, 32, g)) == 1


def test_stream_seeds_differ_by_epoch_and_repeat_by_seed() -> None:
    assert training.stream_seed(0, 1) == training.stream_seed(0, 1) != training.stream_seed(0, 2)
    assert training.stream_seed(0, 1) != training.stream_seed(1, 1) and 0 <= training.stream_seed(7, 3) < 2**63


def test_seeded_leaves_the_global_random_state_as_it_was() -> None:
    state = torch.get_rng_state()
    with training.seeded(123, torch.device("cpu")):
        first = torch.rand(3)
    with training.seeded(123, torch.device("cpu")):
        assert torch.equal(torch.rand(3), first)
    assert torch.equal(torch.get_rng_state(), state)


def test_lookahead_pulls_the_weights_back_every_k_steps() -> None:
    p = torch.nn.Parameter(torch.zeros(2))
    la = regularization.Lookahead([p], k=2, alpha=0.5)
    with torch.no_grad():
        p.add_(1.0)
    la.step()
    assert torch.equal(p.detach(), torch.ones(2))
    with torch.no_grad():
        p.add_(1.0)
    la.step()  # slow = 0 + 0.5 * (2 - 0) = 1, and the fast weights start again from it
    assert torch.equal(p.detach(), torch.ones(2)) and la.state_dict()["counter"] == 2


def test_dropout_shapes() -> None:
    config = {"dropout": "enabled", "dropout.enabled.rate": 0.4, "dropout.enabled.shape": "funnel"}
    assert regularization.dropout_rates(config, 4) == pytest.approx([0.4, 0.3, 0.2, 0.1])
    assert regularization.dropout_rates({**config, "dropout.enabled.shape": "brick"}, 2) == [0.4, 0.4]
    assert regularization.dropout_rates({"dropout": "disabled"}, 3) == [0.0, 0.0, 0.0]


def test_mixed_loss_interpolates_the_two_targets() -> None:
    logits = torch.tensor([[2.0, 0.0]])
    a, b = torch.tensor([0]), torch.tensor([1])
    mixed = regularization.mixed_loss(logits, a, b, 0.25, 0.0)
    plain = [torch.nn.functional.cross_entropy(logits, t) for t in (a, b)]
    assert float(mixed) == pytest.approx(0.25 * float(plain[0]) + 0.75 * float(plain[1]))


def test_augmentations_keep_shapes_and_depend_on_the_generator_only() -> None:
    x = torch.rand(6, 1, 8, 8)
    for fn in (lambda t, g: augment.random_crop(t, 2, g), augment.horizontal_flip, augment.trivial_augment,
               lambda t, g: augment.cutout(t, 0.25, g)):  # fmt: skip
        a = fn(x, torch.Generator().manual_seed(1))
        b = fn(x, torch.Generator().manual_seed(1))
        assert a.shape == x.shape and torch.equal(a, b)
        assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_random_crop_shifts_by_at_most_the_padding() -> None:
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 4, 4] = 1.0
    out = augment.random_crop(x, 1, torch.Generator().manual_seed(3))
    (y, z) = (int(i) for i in torch.nonzero(out[0, 0])[0])
    assert abs(y - 4) <= 1 and abs(z - 4) <= 1 and float(out.sum()) == 1.0


def test_cutout_zeroes_a_square() -> None:
    out = augment.cutout(torch.ones(4, 1, 8, 8), 0.5, torch.Generator().manual_seed(0))
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert bool(((zeros > 0) & (zeros <= 16)).all())


def test_cutmix_reports_the_weight_it_kept() -> None:
    x = torch.stack([torch.zeros(1, 8, 8), torch.ones(1, 8, 8)])
    (mixed,), lam = augment.image_cutmix((x,), torch.tensor([1, 0]), 0.75, torch.Generator().manual_seed(0))
    assert float(mixed[0].mean()) == pytest.approx(1.0 - lam)
    numeric, codes = torch.zeros(2, 3), torch.zeros(2, 1, dtype=torch.long)
    numeric[1], codes[1] = 1.0, 2
    (n2, c2), lam2 = tabular_cutmix((numeric, codes), torch.tensor([1, 0]), 0.5, torch.Generator().manual_seed(0))
    assert lam2 == 0.5 and float(n2[0].sum() + (c2[0] == 2).sum()) == 2.0


def test_preprocessing_is_fitted_on_training_rows_and_imputes_with_indicators() -> None:
    train = np.array([[1.0, 0.0], [np.nan, 1.0], [3.0, np.nan]])
    pre = TabularPreprocessor((0,), (1,), (2,), scaling="standard", imputation="median").fit(train)
    out = pre.transform(np.array([[np.nan, 1.0], [5.0, 7.0]]))
    assert out.numeric.shape == (2, 2) and pre.n_numeric == 2  # the value, and its missing indicator
    assert out.numeric[0, 0] == pytest.approx(0.0) and out.numeric[0, 1] == 1.0  # median of train, scaled
    assert out.codes[:, 0].tolist() == [1, 2]  # level 1, then the unseen level 7 as "missing or unknown"
    quantile = TabularPreprocessor((0,), (), (), scaling="quantile").fit(np.arange(100.0)[:, None])
    assert abs(float(quantile.transform(np.array([[49.5]])).numeric[0, 0])) < 0.05


def test_reweighing_makes_group_and_label_independent() -> None:
    groups = np.array(["a"] * 6 + ["b"] * 4)
    labels = np.array([1, 1, 1, 1, 0, 0, 1, 0, 0, 0])
    w = fairness.reweighing_weights(groups, labels)
    for g in "ab":
        rate = np.sum(w[(groups == g) & (labels == 1)]) / np.sum(w[groups == g])
        assert rate == pytest.approx(np.mean(labels))


def test_parity_penalty_is_the_gap_in_positive_rates() -> None:
    penalty = fairness.parity_penalty(torch.tensor([0, 0, 1, 1]), weight=2.0)
    logits = torch.tensor([[0.0, 10.0], [0.0, 10.0], [10.0, 0.0], [10.0, 0.0]])
    assert float(penalty(logits, torch.arange(4))) == pytest.approx(2.0, abs=1e-3)
    assert float(penalty(logits[:2], torch.tensor([0, 1]))) == 0.0  # one group only: nothing to compare


def test_subsample_keeps_class_shares_and_is_seeded() -> None:
    rows, y = np.arange(100), np.array([0] * 80 + [1] * 20)
    a, b = subsample(rows, y, 10, 0), subsample(rows, y, 10, 0)
    assert np.array_equal(a, b) and len(a) == 10 and int(np.sum(y[a] == 1)) == 2
    assert subsample(rows, y, None, 0) is rows


def test_ensemble_averages_probabilities() -> None:
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    x = torch.randn(3, 2)
    out = regularization.Ensemble([a, b])(x)
    expected = (torch.softmax(a(x), -1) + torch.softmax(b(x), -1)) / 2
    assert torch.allclose(torch.softmax(out, -1), expected, atol=1e-6)


def test_mnist_test_images_read_from_idx_when_the_shared_folder_has_them() -> None:
    test = read_mnist_test()
    if test is None:
        pytest.skip("the shared data folder has no mnist_test/ here")
    x, y = test
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and np.bincount(y)[1] == 1135
    assert math.isclose(float(x.mean()), 0.1325, abs_tol=0.002)


def test_read_idx_refuses_other_files(tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.idx"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(Exception, match="not an IDX file"):
        read_idx(bad)
