"""A user's own CSV, Parquet and NumPy files: columns, codes, missing values and the errors that name columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metaml.data import DataError, load_dataset, load_file

FRAME = pd.DataFrame(
    {
        "income": [10.0, 20.5, np.nan, 40.0, 50.0, 60.0],
        "city": ["Oslo", "Rome", None, "Oslo", "Lima", "Rome"],
        "gender": ["f", "m", "f", "m", "f", "m"],
        "fold": ["train", "Train", "val", "test", "TRAIN", "validation"],
        "label": ["yes", "no", "yes", "no", "yes", "yes"],
    }
)


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "loans.csv"
    FRAME.to_csv(path, index=False)
    return path


def test_csv_columns_become_numeric_and_coded_features(csv: Path) -> None:
    d = load_file(csv, target="label", sensitive="gender", split="fold")
    assert d.name == "loans.csv"
    assert d.feature_names == ("income", "city")  # the sensitive, split and target columns are not features
    assert d.class_names == ("no", "yes") and d.y.tolist() == [1, 0, 1, 0, 1, 1]
    assert d.categorical == (1,) and d.categories == (("Lima", "Oslo", "Rome"),)
    assert np.isnan(d.X[2]).all()  # missing number and missing category both stay NaN
    assert d.X[:, 1][[0, 1, 4]].tolist() == [1.0, 2.0, 0.0]
    assert d.sensitive.tolist() == ["f", "m", "f", "m", "f", "m"]
    assert d.folds.tolist() == ["train", "train", "val", "test", "train", "val"]


def test_options_of_the_columns(csv: Path) -> None:
    d = load_file(
        csv,
        target="label",
        sensitive="gender",
        keep_sensitive_feature=True,
        drop=["fold"],
        categorical=["income"],
        classes=["yes", "no"],
    )
    assert d.feature_names == ("income", "city", "gender")
    assert d.categorical == (0, 1, 2) and d.class_names == ("yes", "no") and d.y[0] == 0
    assert load_dataset(str(csv), target="label").folds is None


@pytest.mark.parametrize("role", ["target", "sensitive"])
def test_a_missing_column_names_the_existing_ones(csv: Path, role: str) -> None:
    kwargs = {"target": "label", role: "outcome"}
    with pytest.raises(
        DataError, match=f"no {role} column 'outcome'; its columns are: income, city, gender, fold, label"
    ):
        load_file(csv, **kwargs)  # type: ignore[arg-type]


def test_bad_values_are_refused(tmp_path: Path, csv: Path) -> None:
    FRAME.assign(gender="f").to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(DataError, match="sensitive attribute 'gender' has one group only"):
        load_file(tmp_path / "one.csv", target="label", sensitive="gender")
    FRAME.assign(fold=["train"] * 5 + ["holdout"]).to_csv(tmp_path / "fold.csv", index=False)
    with pytest.raises(DataError, match="train, val or test.*holdout"):
        load_file(tmp_path / "fold.csv", target="label", split="fold")
    with pytest.raises(DataError, match="target column 'income' has 1 missing"):
        load_file(csv, target="income")
    FRAME.assign(label="yes").to_csv(tmp_path / "same.csv", index=False)
    with pytest.raises(DataError, match="one class only"):
        load_file(tmp_path / "same.csv", target="label")
    with pytest.raises(DataError, match="not among the classes"):
        load_file(csv, target="label", classes=["yes"])
    with pytest.raises(DataError, match="no data file"):
        load_file(tmp_path / "absent.csv", target="label")
    (tmp_path / "data.xlsx").write_text("")
    with pytest.raises(DataError, match="suffix '.xlsx'"):
        load_file(tmp_path / "data.xlsx", target="label")


def test_parquet_reads_like_csv(tmp_path: Path, csv: Path) -> None:
    pytest.importorskip("pyarrow")
    FRAME.to_parquet(tmp_path / "loans.parquet")
    from_parquet = load_file(tmp_path / "loans.parquet", target="label", sensitive="gender", split="fold")
    from_csv = load_file(csv, target="label", sensitive="gender", split="fold")
    assert from_parquet.content_hash == from_csv.content_hash


def test_numpy_files(tmp_path: Path) -> None:
    x = np.array([0.5, 1.5, 2.5, 3.5])
    y = np.array([0, 1, 1, 0])
    np.savez(tmp_path / "table.npz", x=x, group=np.array(["a", "b", "a", "b"]), y=y)
    d = load_file(tmp_path / "table.npz", target="y", sensitive="group")
    assert d.feature_names == ("x",) and d.X[:, 0].tolist() == x.tolist() and d.class_names == ("0", "1")
    structured = np.zeros(4, dtype=[("x", "f8"), ("y", "i8")])
    structured["x"], structured["y"] = x, y
    np.save(tmp_path / "table.npy", structured)
    assert load_file(tmp_path / "table.npy", target="y").X[:, 0].tolist() == x.tolist()
    np.save(tmp_path / "plain.npy", np.zeros((4, 2)))
    with pytest.raises(DataError, match="structured array"):
        load_file(tmp_path / "plain.npy", target="y")
    np.savez(tmp_path / "ragged.npz", x=x, y=y[:3])
    with pytest.raises(DataError, match="one 1-D array per column"):
        load_file(tmp_path / "ragged.npz", target="y")
