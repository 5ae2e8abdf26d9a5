"""Loaders by name: the sets bundled with packages, and the shared fairness benchmarks (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metaml.data import DATA_DIR_ENV, DataError, available_datasets, data_dir, load_dataset

SHARED = data_dir()
needs_shared = pytest.mark.skipif(
    not (SHARED / "adult" / "adult.data").is_file(), reason=f"the shared data folder {SHARED} is absent"
)


@pytest.mark.parametrize(
    ("name", "shape", "classes"),
    [
        ("digits", (1797, 64), tuple(str(d) for d in range(10))),
        ("iris", (150, 4), ("setosa", "versicolor", "virginica")),
        ("wine", (178, 13), ("class_0", "class_1", "class_2")),
        ("breast_cancer", (569, 30), ("malignant", "benign")),
    ],
)
def test_sklearn_sets(name: str, shape: tuple[int, int], classes: tuple[str, ...]) -> None:
    d = load_dataset(name)
    assert d.X.shape == shape and d.class_names == classes
    assert set(np.unique(d.y)) == set(range(len(classes)))
    assert d.sensitive is None and d.categorical == () and d.folds is None


def test_arrests_when_scikit_lego_is_installed() -> None:
    pytest.importorskip("sklego")
    d = load_dataset("arrests")
    assert d.n_examples == 5226 and d.class_names == ("No", "Yes")
    assert set(d.sensitive) == {"Black", "White"} and "colour" not in d.feature_names
    assert load_dataset("arrests", sensitive="sex").sensitive_name == "sex"


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(DataError, match="unknown dataset 'mnist'; choose one of .*adult.*digits"):
        load_dataset("mnist")
    with pytest.raises(DataError, match="target="):
        load_dataset("somewhere/my.csv")
    assert {"digits", "adult", "german"} <= set(available_datasets())


def test_a_missing_data_folder_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert data_dir() == tmp_path
    with pytest.raises(DataError, match=f"{tmp_path}.*adult.data.*{DATA_DIR_ENV}"):
        load_dataset("adult")


@needs_shared
def test_adult() -> None:
    d = load_dataset("adult")
    assert d.X.shape == (32561, 13)  # 14 attributes less the sensitive one
    assert d.class_names == ("<=50K", ">50K") and np.bincount(d.y).tolist() == [24720, 7841]
    assert d.sensitive_name == "sex" and sorted(set(d.sensitive)) == ["Female", "Male"]
    assert "sex" not in d.feature_names
    workclass = d.feature_names.index("workclass")
    assert workclass in d.categorical and np.isnan(d.X[:, workclass]).sum() == 1836  # '?' stays missing
    assert d.feature_names.index("age") in d.numeric


@needs_shared
def test_adult_with_its_test_file() -> None:
    d = load_dataset("adult", include_test=True, sensitive="race", keep_sensitive_feature=True)
    assert d.n_examples == 32561 + 16281 and "race" in d.feature_names
    assert np.bincount(d.y).tolist() == [24720 + 12435, 7841 + 3846]  # test labels lose their trailing '.'
    s = d.split(seed=0)
    assert np.array_equal(s.test, np.arange(32561, 48842))


@needs_shared
def test_german() -> None:
    d = load_dataset("german")
    assert d.X.shape == (1000, 20)
    assert d.class_names == ("bad", "good") and np.bincount(d.y).tolist() == [300, 700]
    assert sorted(set(d.sensitive)) == ["female", "male"] and int(np.sum(d.sensitive == "female")) == 310
    age = load_dataset("german", sensitive="age_group")
    assert sorted(set(age.sensitive)) == ["25+", "under 25"] and "sex" not in age.feature_names


@needs_shared
def test_compas_and_law_school() -> None:
    compas = load_dataset("compas")
    assert compas.n_examples == 6172 and "decile_score" not in compas.feature_names
    assert np.bincount(compas.y).tolist() == [3363, 2809]
    assert load_dataset("compas", propublica_filter=False).n_examples == 7214
    law = load_dataset("law_school")
    assert law.n_examples == 21791 and np.bincount(law.y).tolist() == [2431, 19360]
    assert "ZFYA" not in law.feature_names and len(set(law.sensitive)) == 8
