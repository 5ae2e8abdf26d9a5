"""A user's own table from a CSV, Parquet or NumPy file, read from disk only.

Formats by suffix: ``.csv`` and ``.tsv`` (optionally compressed, e.g. ``.csv.gz``),
``.parquet``/``.pq`` (needs pyarrow), ``.npz`` (one 1-D array per column, keyed by the
column name) and ``.npy`` (a structured array whose field names are the columns). The
columns then follow the rules of ``metaml.data.frame.from_frame``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaml.data.dataset import DataError, Dataset
from metaml.data.frame import from_frame

SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".npz", ".npy")
_COMPRESSION = (".gz", ".bz2", ".zip", ".xz", ".zst")


def load_file(
    path: str | Path,
    target: str,
    *,
    sensitive: str | Sequence[str] | None = None,
    split: str | None = None,
    categorical: Sequence[str] = (),
    drop: Sequence[str] = (),
    classes: Sequence[Any] | None = None,
    keep_sensitive_feature: bool = False,
    na_values: Sequence[str] | None = None,
    name: str | None = None,
) -> Dataset:
    """The ``Dataset`` in the file at ``path``, labelled by its ``target`` column.

    ``na_values`` adds strings that mean "missing" in a CSV (pandas already reads empty
    cells, ``NA`` and ``NaN`` as missing). ``name`` defaults to the file's name.
    """
    frame = read_table(path, na_values=na_values)
    return from_frame(
        frame,
        target,
        name=name or Path(path).name,
        sensitive=sensitive,
        split=split,
        categorical=categorical,
        drop=drop,
        classes=classes,
        keep_sensitive_feature=keep_sensitive_feature,
    )


def read_table(path: str | Path, na_values: Sequence[str] | None = None) -> pd.DataFrame:
    """The file at ``path`` as a DataFrame, its format chosen by its suffix."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no data file at {path}")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in (".csv", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        return pd.read_csv(path, sep=sep, na_values=list(na_values) if na_values else None, skipinitialspace=True)
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except ImportError as exc:
            raise DataError(f"reading {path.name} needs a Parquet engine: pip install pyarrow ({exc})") from None
    if suffix == ".npz":
        return _frame_from_npz(path)
    if suffix == ".npy":
        return _frame_from_npy(path)
    raise DataError(f"cannot read {path.name}: the suffix {path.suffix!r} is not one of {', '.join(SUFFIXES)}")


def _frame_from_npz(path: Path) -> pd.DataFrame:
    with np.load(path, allow_pickle=False) as archive:
        columns = {key: archive[key] for key in archive.files}
    shapes = {key: values.shape for key, values in columns.items()}
    if not columns or any(len(shape) != 1 for shape in shapes.values()) or len(set(shapes.values())) > 1:
        raise DataError(
            f"{path.name}: a .npz data file holds one 1-D array per column, all of one length; got shapes {shapes}"
        )
    return pd.DataFrame(columns)


def _frame_from_npy(path: Path) -> pd.DataFrame:
    array = np.load(path, allow_pickle=False)
    if array.dtype.names is None or array.ndim != 1:
        raise DataError(
            f"{path.name}: a .npy data file must hold a 1-D structured array whose field names are the columns "
            f"(got dtype {array.dtype}, shape {array.shape}); or save one array per column with numpy.savez"
        )
    return pd.DataFrame({name: array[name] for name in array.dtype.names})
