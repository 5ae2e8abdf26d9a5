"""Datasets for the base-level pipelines, loaded from disk only (nothing downloads at run time).

``load_dataset("digits")``, ``load_dataset("adult", sensitive="race")`` or
``load_dataset("my.csv", target="label", sensitive="group", split="fold")`` give a frozen
``Dataset`` with numeric features (categoricals coded, missing values as NaN), integer
labels, an optional sensitive attribute, a seeded stratified ``split`` and a
``content_hash`` to record with the study.
"""

from __future__ import annotations

from metaml.data.bundled import SKLEARN_DATASETS, has_sklego, load_arrests, load_sklearn
from metaml.data.dataset import DataError, Dataset, Split
from metaml.data.files import load_file, read_table
from metaml.data.frame import from_frame
from metaml.data.registry import available_datasets, load_dataset
from metaml.data.shared import (
    DATA_DIR_ENV,
    SHARED_DATASETS,
    data_dir,
    load_adult,
    load_compas,
    load_german,
    load_law_school,
)
from metaml.data.text import TEXT_DATASETS, TextDataset, load_text_dataset

__all__ = [
    "DATA_DIR_ENV",
    "SHARED_DATASETS",
    "SKLEARN_DATASETS",
    "TEXT_DATASETS",
    "DataError",
    "Dataset",
    "Split",
    "TextDataset",
    "available_datasets",
    "data_dir",
    "from_frame",
    "has_sklego",
    "load_adult",
    "load_arrests",
    "load_compas",
    "load_dataset",
    "load_file",
    "load_german",
    "load_law_school",
    "load_sklearn",
    "load_text_dataset",
    "read_table",
]
