"""Turn a table (a pandas DataFrame) into a ``Dataset``: the one place that names columns.

Every loader of tabular data ends here, so the rules are the same for a user's CSV and for
the fairness benchmarks:

- the ``target`` column gives the labels; its distinct values, sorted (or in the order of
  ``classes``), are the classes; a missing target value is an error;
- the ``sensitive`` column gives each row's group; it is left out of the features unless
  ``keep_sensitive_feature`` (as in fairlearn's examples: a model that never sees the
  attribute; other columns may still stand in for it). Several columns (``["race", "sex"]``)
  give their intersection: each row's group is its values joined, ``"Caucasian & Female"``;
- the ``split`` column, if named, fixes each row's part: train/training,
  val/valid/validation/dev, or test/testing (any case);
- every other column not in ``drop`` is a feature: numeric when all its values read as
  numbers (and not named in ``categorical``), categorical otherwise, coded by its sorted
  levels; missing values stay NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from metaml.data.dataset import DataError, Dataset

_FOLD_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}


def from_frame(
    frame: pd.DataFrame,
    target: str,
    *,
    name: str,
    sensitive: str | Sequence[str] | None = None,
    split: str | None = None,
    categorical: Sequence[str] = (),
    drop: Sequence[str] = (),
    classes: Sequence[Any] | None = None,
    keep_sensitive_feature: bool = False,
) -> Dataset:
    """A ``Dataset`` from ``frame`` under the rules in the module docstring."""
    attributes = sensitive_columns(sensitive)
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    _require_columns(
        name,
        columns,
        target=[target],
        sensitive=attributes,
        split=[split] if split else [],
        categorical=list(categorical),
        drop=list(drop),
    )
    y, class_names = _labels(name, frame[target], classes)
    groups = None
    for column in attributes:
        missing = frame[column].isna()
        if missing.any():
            raise DataError(
                f"dataset {name!r}: sensitive column {column!r} has {int(missing.sum())} missing values; "
                "fill them with a group of their own or drop those rows"
            )
    if attributes:
        groups = frame[attributes].astype(str).agg(INTERSECTION.join, axis=1).to_numpy().astype(str)
    folds = _folds(name, frame[split]) if split is not None else None

    left_out = {target, *drop} | ({split} if split else set())
    if not keep_sensitive_feature:
        left_out.update(attributes)
    feature_names = [c for c in columns if c not in left_out]
    if not feature_names:
        raise DataError(f"dataset {name!r}: no feature column is left besides {sorted(left_out)}")
    forced = set(categorical)
    matrix = np.empty((len(frame), len(feature_names)), dtype=np.float64)
    categorical_idx: list[int] = []
    levels_of: list[tuple[str, ...]] = []
    for j, column in enumerate(feature_names):
        numbers = None if column in forced else _as_numbers(frame[column])
        if numbers is not None:
            matrix[:, j] = numbers
        else:
            codes, levels = _as_codes(frame[column])
            matrix[:, j] = codes
            categorical_idx.append(j)
            levels_of.append(levels)
    return Dataset(
        name=name,
        X=matrix,
        y=y,
        feature_names=tuple(feature_names),
        class_names=class_names,
        categorical=tuple(categorical_idx),
        categories=tuple(levels_of),
        sensitive=groups,
        sensitive_name=INTERSECTION.join(attributes) if attributes else None,
        folds=folds,
    )


#: Joins the values of several sensitive columns into one group: "Caucasian & Female".
INTERSECTION = " & "


def sensitive_columns(sensitive: str | Sequence[str] | None) -> list[str]:
    """The sensitive column names: none, one, or several (whose intersection makes the groups)."""
    if sensitive is None:
        return []
    if isinstance(sensitive, str):
        return [sensitive]
    columns = [str(c) for c in sensitive]
    if not columns or len(set(columns)) != len(columns):
        raise DataError(f"sensitive: name one column or several distinct ones, got {list(sensitive)!r}")
    return columns


def _require_columns(name: str, columns: list[str], **wanted: list[str]) -> None:
    """Refuse column names that the table lacks, naming the ones it has."""
    absent = [f"{role} column {c!r}" for role, names in wanted.items() for c in names if c not in columns]
    if absent:
        raise DataError(f"dataset {name!r} has no {', no '.join(absent)}; its columns are: {', '.join(columns)}")


def _labels(name: str, values: pd.Series, classes: Sequence[Any] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    missing = values.isna()
    if missing.any():
        raise DataError(
            f"dataset {name!r}: target column {values.name!r} has {int(missing.sum())} missing values; drop those rows"
        )
    found = list(pd.unique(values))
    if classes is None:
        classes = _sorted(found)
    else:
        stray = [v for v in found if v not in list(classes)]
        if stray:
            raise DataError(
                f"dataset {name!r}: target values {_sorted(stray)} are not among the classes {list(classes)}"
            )
    if len(classes) < 2:
        raise DataError(f"dataset {name!r}: the target {values.name!r} has one class only ({classes[0]!r})")
    index = {v: i for i, v in enumerate(classes)}
    y = np.array([index[v] for v in values.tolist()], dtype=np.int64)
    return y, tuple(str(c) for c in classes)


def _folds(name: str, values: pd.Series) -> np.ndarray:
    keys = values.astype(str).str.strip().str.lower()
    unknown = sorted(set(keys[~keys.isin(list(_FOLD_NAMES))]))
    if values.isna().any() or unknown:
        raise DataError(
            f"dataset {name!r}: split column {values.name!r} must say train, val or test in every row; "
            f"found {unknown or 'missing values'}"
        )
    return keys.map(_FOLD_NAMES).to_numpy(dtype=str)


def _as_numbers(values: pd.Series) -> np.ndarray | None:
    """The column as float64 if every present value is a number (or a bool), else None."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    if isinstance(values.dtype, pd.CategoricalDtype):
        return None
    numbers = pd.to_numeric(values, errors="coerce")
    if (numbers.isna() & values.notna()).any():
        return None
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _as_codes(values: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes 0..c-1 by sorted level (a pandas Categorical keeps its own order), NaN when missing."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = list(values.cat.categories)
    else:
        levels = _sorted(list(pd.unique(values.dropna())))
    index = {v: float(i) for i, v in enumerate(levels)}
    codes = np.array([np.nan if pd.isna(v) else index[v] for v in values.tolist()], dtype=np.float64)
    return codes, tuple(str(v) for v in levels)


def _sorted(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:  # mixed types: order by their text
        return sorted(values, key=str)
