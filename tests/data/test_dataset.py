"""The Dataset record: its seeded stratified split, its content hash, and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from metaml.data import DataError, Dataset, load_dataset


def _toy(**changes: object) -> Dataset:
    fields: dict[str, object] = dict(
        name="toy",
        X=np.array([[0.0, 1.0], [1.5, np.nan], [2.0, 0.0], [3.0, 1.0]]),
        y=np.array([0, 1, 0, 1]),
        feature_names=("size", "colour"),
        class_names=("no", "yes"),
        categorical=(1,),
        categories=(("blue", "red"),),
        sensitive=np.array(["f", "m", "m", "f"]),
        sensitive_name="sex",
    )
    fields.update(changes)
    return Dataset(**fields)  # type: ignore[arg-type]


def test_fields_and_derived_properties() -> None:
    d = _toy()
    assert (d.n_examples, d.n_features, d.n_classes) == (4, 2, 2)
    assert d.cardinalities == (2,) and d.numeric == (0,)
    assert d.X.dtype == np.float64 and d.y.dtype == np.int64
    with pytest.raises(ValueError):
        d.X[0, 0] = 5.0  # read-only: a dataset cannot change under a study


def test_split_is_deterministic_disjoint_and_complete() -> None:
    digits = load_dataset("digits")
    a, b, c = digits.split(seed=3), digits.split(seed=3), digits.split(seed=4)
    for part in ("train", "val", "test"):
        assert np.array_equal(getattr(a, part), getattr(b, part))
    assert not np.array_equal(a.val, c.val)
    everything = np.concatenate([a.train, a.val, a.test])
    assert np.array_equal(np.sort(everything), np.arange(digits.n_examples))
    assert len(a.test) == pytest.approx(0.2 * digits.n_examples, abs=digits.n_classes)
    assert len(a.val) == pytest.approx(0.2 * digits.n_examples, abs=digits.n_classes)


def test_split_is_stratified() -> None:
    rng = np.random.default_rng(0)
    y = np.array([0] * 900 + [1] * 100)  # 10 % positive
    d = Dataset("imbalanced", rng.normal(size=(1000, 3)), y, ("a", "b", "c"), ("neg", "pos"))
    s = d.split(seed=1, val=0.25, test=0.1)
    assert np.bincount(y[s.test]).tolist() == [90, 10]
    assert np.bincount(y[s.val]).tolist() == [225, 25]
    assert np.bincount(y[s.train]).tolist() == [585, 65]


def test_split_keeps_the_sources_folds() -> None:
    folds = np.array(["train"] * 8 + ["test"] * 2)
    d = Dataset("folded", np.arange(10.0)[:, None], np.array([0, 1] * 5), ("x",), ("a", "b"), folds=folds)
    s = d.split(seed=0, val=0.25, test=0.5)
    assert s.test.tolist() == [8, 9]  # fixed by the source; test=0.5 is not drawn
    assert len(s.val) == 2 and set(s.val) <= set(range(8))  # 25 % of the 8 training rows, one per class
    with pytest.raises(DataError, match="val \\+ test < 1"):
        d.split(seed=0, val=0.5, test=0.5)


def test_hash_is_stable_and_follows_the_content() -> None:
    d = _toy()
    # Pinned: the hash recorded in a store must not change between versions of metaml.
    assert d.content_hash == _toy().content_hash
    assert d.content_hash == "40eaba050f62ee604fd733ac544f08f5db34eb2661ad2d00b46f08219d1b47aa"
    assert _toy(name="renamed").content_hash == d.content_hash
    changed = d.X.copy()
    changed[0, 0] = 0.5
    assert _toy(X=changed).content_hash != d.content_hash
    assert _toy(y=np.array([1, 1, 0, 1])).content_hash != d.content_hash
    assert _toy(sensitive=None, sensitive_name=None).content_hash != d.content_hash
    # any NaN bit pattern is the same missing value
    other_nan = d.X.copy()
    other_nan[1, 1] = -np.nan
    assert _toy(X=other_nan).content_hash == d.content_hash
    assert load_dataset("iris").content_hash == load_dataset("iris").content_hash


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"y": np.array([0, 1, 2, 1])}, "class indices 0..1"),
        ({"y": np.array([0, 1, 0])}, "one label per row"),
        ({"feature_names": ("size",)}, "1 feature names for 2 columns"),
        ({"categories": (("blue",),)}, "codes 0..0"),
        ({"sensitive": np.array(["f", "f", "f", "f"])}, "one group only"),
        ({"folds": np.array(["train", "dev", "test", "train"])}, "folds must be in"),
    ],
)
def test_malformed_datasets_are_refused(changes: dict[str, object], words: str) -> None:
    with pytest.raises(DataError, match=words):
        _toy(**changes)
