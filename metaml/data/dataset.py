"""The ``Dataset`` record every loader returns, its seeded split, and its content hash.

A dataset crosses boundaries (loader -> pipeline -> store), so it is a frozen dataclass
of read-only arrays. Features are numbers only: categorical columns hold integer codes
``0..c-1`` (the levels are kept in ``categories``), and missing values stay ``NaN`` so
that the pipeline decides how to impute them, as one of its tuned choices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from metaml.errors import MetamlError

FOLDS = ("train", "val", "test")
_HASH_VERSION = b"metaml-dataset-v1"


class DataError(MetamlError, ValueError):
    """A dataset cannot be loaded or is malformed; the message names what is there instead."""


@dataclass(frozen=True, eq=False)
class Split:
    """Row indices (sorted) of the train, validation and test parts of a dataset."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seed: int


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset: features, labels, and optionally a sensitive attribute.

    - ``X`` float64 ``[n, d]``; ``NaN`` marks a missing value; the columns listed in
      ``categorical`` hold codes ``0..c-1`` whose names are ``categories[j]``.
    - ``y`` int64 ``[n]`` in ``0..k-1``, naming ``class_names[y]``.
    - ``sensitive`` ``[n]`` strings, the group of each example (``None`` when the data has
      no sensitive attribute); ``sensitive_name`` says which attribute it is.
    - ``folds`` ``[n]`` strings in ``train``/``val``/``test`` when the source fixes a split
      (a ``split`` column, a separate test file), else ``None``.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    categorical: tuple[int, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()
    sensitive: np.ndarray | None = None
    sensitive_name: str | None = None
    folds: np.ndarray | None = None

    def __post_init__(self) -> None:
        X = _frozen(np.asarray(self.X, dtype=np.float64))
        y = _frozen(np.asarray(self.y))
        if X.ndim != 2:
            raise DataError(f"dataset {self.name!r}: X must be 2-D [examples, features], got shape {X.shape}")
        n, d = X.shape
        if y.shape != (n,):
            raise DataError(f"dataset {self.name!r}: y must have one label per row of X ({n}), got shape {y.shape}")
        if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= len(self.class_names)):
            raise DataError(
                f"dataset {self.name!r}: y must hold class indices 0..{len(self.class_names) - 1} "
                f"for classes {list(self.class_names)}"
            )
        if len(self.feature_names) != d:
            raise DataError(f"dataset {self.name!r}: {len(self.feature_names)} feature names for {d} columns")
        if len(self.categories) != len(self.categorical) or any(not 0 <= j < d for j in self.categorical):
            raise DataError(f"dataset {self.name!r}: categorical columns {self.categorical} do not match their levels")
        for j, levels in zip(self.categorical, self.categories):
            codes = X[:, j][~np.isnan(X[:, j])]
            if codes.size and (codes.min() < 0 or codes.max() >= len(levels) or np.any(codes % 1)):
                raise DataError(
                    f"dataset {self.name!r}: column {self.feature_names[j]!r} must hold codes 0..{len(levels) - 1}"
                )
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y.astype(np.int64, copy=False))
        for attr in ("sensitive", "folds"):
            values = getattr(self, attr)
            if values is None:
                continue
            values = _frozen(np.asarray(values).astype(str))
            if values.shape != (n,):
                raise DataError(f"dataset {self.name!r}: {attr} must have one value per row ({n}), got {values.shape}")
            object.__setattr__(self, attr, values)
        if self.sensitive is not None and n and np.unique(self.sensitive).size < 2:
            raise DataError(
                f"dataset {self.name!r}: the sensitive attribute {self.sensitive_name!r} has one group only "
                f"({self.sensitive[0]!r}), so no fairness metric can compare groups; choose another column"
            )
        if self.folds is not None and not set(np.unique(self.folds)) <= set(FOLDS):
            raise DataError(f"dataset {self.name!r}: folds must be in {FOLDS}, got {sorted(set(self.folds))}")

    @property
    def n_examples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def cardinalities(self) -> tuple[int, ...]:
        """The number of levels of each categorical column, in the order of ``categorical``."""
        return tuple(len(levels) for levels in self.categories)

    @property
    def numeric(self) -> tuple[int, ...]:
        """Indices of the columns that are not categorical."""
        return tuple(j for j in range(self.n_features) if j not in set(self.categorical))

    @cached_property
    def content_hash(self) -> str:
        """sha256 (hex) of the data's content: arrays, names and levels, not the dataset's name.

        Recorded with a study so that a result can be traced to the exact data it came
        from; equal content gives an equal hash on any machine (fixed byte order, one NaN).
        """
        h = hashlib.sha256(_HASH_VERSION)

        def add(tag: str, payload: bytes) -> None:
            h.update(f"|{tag}:{len(payload)}|".encode())
            h.update(payload)

        X = np.where(np.isnan(self.X), np.nan, self.X)  # one NaN bit pattern
        add("X", repr(self.X.shape).encode() + np.ascontiguousarray(X, dtype="<f8").tobytes())
        add("y", np.ascontiguousarray(self.y, dtype="<i8").tobytes())
        add("features", _joined(self.feature_names))
        add("classes", _joined(self.class_names))
        add("categorical", repr(self.categorical).encode())
        add("categories", _joined(_joined(levels).decode() for levels in self.categories))
        add("sensitive_name", repr(self.sensitive_name).encode())
        for attr in ("sensitive", "folds"):
            values = getattr(self, attr)
            add(attr, b"<none>" if values is None else _joined(values.tolist()))
        return h.hexdigest()

    def split(self, seed: int, val: float = 0.2, test: float = 0.2) -> Split:
        """Seeded, stratified train/validation/test row indices; equal seeds give equal splits.

        Rows the source already assigns (``folds``) stay where they are; a part the source
        does not provide is drawn from its training rows: ``val`` and ``test`` are fractions
        of those rows, taken from each class in proportion (rounded per class), so every
        part keeps the class balance. Without ``folds``, all rows are training rows.
        """
        if not (0.0 <= val < 1.0 and 0.0 <= test < 1.0 and val + test < 1.0):
            raise DataError(f"split: need 0 <= val, 0 <= test and val + test < 1, got val={val}, test={test}")
        rng = np.random.default_rng(seed)
        rows = np.arange(self.n_examples)
        folds = self.folds if self.folds is not None else np.full(self.n_examples, "train")
        fixed_val, fixed_test = rows[folds == "val"], rows[folds == "test"]
        pool = rows[folds == "train"]
        draw_val = 0.0 if fixed_val.size else val
        draw_test = 0.0 if fixed_test.size else test
        train_parts, val_parts, test_parts = [], [fixed_val], [fixed_test]
        for c in range(self.n_classes):
            members = rng.permutation(pool[self.y[pool] == c])
            n_test = _round_half_up(draw_test * members.size)
            n_val = min(_round_half_up(draw_val * members.size), members.size - n_test)
            test_parts.append(members[:n_test])
            val_parts.append(members[n_test : n_test + n_val])
            train_parts.append(members[n_test + n_val :])
        return Split(
            train=_frozen(np.sort(np.concatenate(train_parts)).astype(np.int64)),
            val=_frozen(np.sort(np.concatenate(val_parts)).astype(np.int64)),
            test=_frozen(np.sort(np.concatenate(test_parts)).astype(np.int64)),
            seed=seed,
        )


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array).copy()
    array.setflags(write=False)
    return array


def _joined(values: Iterable[object]) -> bytes:
    # The unit separator cannot appear in a column or class name read from a file.
    return "\x1f".join(str(v) for v in values).encode()


def _round_half_up(x: float) -> int:
    return int(np.floor(x + 0.5))
