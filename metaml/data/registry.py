"""Datasets by name (as a study's YAML names them) or by the path of a user's file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from metaml.data import bundled, shared
from metaml.data.dataset import DataError, Dataset
from metaml.data.files import SUFFIXES, load_file

_LOADERS: dict[str, Callable[..., Dataset]] = {
    **{name: (lambda name=name: bundled.load_sklearn(name)) for name in bundled.SKLEARN_DATASETS},
    "adult": shared.load_adult,
    "german": shared.load_german,
    "compas": shared.load_compas,
    "law_school": shared.load_law_school,
    "arrests": bundled.load_arrests,
}


def available_datasets() -> list[str]:
    """The dataset names ``load_dataset`` knows (``arrests`` only with scikit-lego installed)."""
    return sorted(n for n in _LOADERS if n != "arrests" or bundled.has_sklego())


def load_dataset(name_or_path: str | Path, **options: Any) -> Dataset:
    """The dataset of that name, or the one in that file (``target=`` is then required).

    ``options`` go to the loader: e.g. ``load_dataset("adult", sensitive="race")`` or
    ``load_dataset("data/loans.csv", target="default", sensitive="gender")``.
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text or _has_data_suffix(text):
        if "target" not in options:
            raise DataError(f"loading the file {text} needs target=<the label column's name>")
        return load_file(name_or_path, **options)
    if text not in _LOADERS:
        raise DataError(
            f"unknown dataset {text!r}; choose one of {', '.join(available_datasets())}, "
            f"or give the path of a file ({', '.join(SUFFIXES)})"
        )
    try:
        return _LOADERS[text](**options)
    except TypeError as exc:
        raise DataError(f"dataset {text!r}: {exc}") from None


def _has_data_suffix(text: str) -> bool:
    return any(suffix in SUFFIXES for suffix in Path(text.lower()).suffixes)
