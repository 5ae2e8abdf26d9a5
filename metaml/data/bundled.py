"""Datasets that ship inside installed packages, so they load on any machine without a network.

scikit-learn's ``load_*`` sets (digits, breast_cancer, wine, iris) always; scikit-lego's
``load_arrests`` (a fairness set: sensitive colour or sex) only when scikit-lego is
installed, as it is an optional extra. (scikit-learn's ``fetch_*`` functions download, so
they are not offered here.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn import datasets as sk

from metaml.data.dataset import DataError, Dataset
from metaml.data.frame import from_frame

_SKLEARN: dict[str, Callable[..., Any]] = {
    "digits": sk.load_digits,
    "breast_cancer": sk.load_breast_cancer,
    "wine": sk.load_wine,
    "iris": sk.load_iris,
}
SKLEARN_DATASETS = tuple(_SKLEARN)


def load_sklearn(name: str) -> Dataset:
    """One of scikit-learn's bundled classification sets, all features numeric."""
    if name not in _SKLEARN:
        raise DataError(f"unknown scikit-learn dataset {name!r}; choose one of {', '.join(SKLEARN_DATASETS)}")
    bunch = _SKLEARN[name]()
    n_features = bunch.data.shape[1]
    feature_names = getattr(bunch, "feature_names", None)
    if feature_names is None or len(feature_names) != n_features:
        feature_names = [f"x{j}" for j in range(n_features)]
    return Dataset(
        name=name,
        X=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.int64),
        feature_names=tuple(str(f) for f in feature_names),
        class_names=tuple(str(c) for c in bunch.target_names),
    )


def has_sklego() -> bool:
    """Whether the optional scikit-lego package (and so ``arrests``) is installed."""
    try:
        import sklego.datasets  # noqa: F401
    except ImportError:
        return False
    return True


def load_arrests(sensitive: str | Sequence[str] = "colour", keep_sensitive_feature: bool = False) -> Dataset:
    """scikit-lego's arrests data (5,226 rows): was the arrested person released (Yes = 1)?

    Sensitive attribute ``colour`` (Black/White) or ``sex``.
    """
    if not has_sklego():
        raise DataError("the 'arrests' dataset comes with scikit-lego, which is not installed: pip install scikit-lego")
    from sklego.datasets import load_arrests as sklego_arrests

    frame = sklego_arrests(as_frame=True)
    return from_frame(
        frame,
        "released",
        name="arrests",
        sensitive=sensitive,
        classes=("No", "Yes"),
        keep_sensitive_feature=keep_sensitive_feature,
    )
