"""Tabular preprocessing, fitted on the training rows only: imputation, indicators, scaling, codes.

Fitting on the training rows alone keeps the validation and test metrics honest (no
statistic of theirs leaks into the inputs). Numeric columns are imputed (median or mean)
and get a 0/1 indicator column when the training rows miss any value there; they are then
scaled (standard, quantile to a normal, or left as they are). Categorical columns stay
integer codes, with one extra code for "missing or never seen in training", which is the
categorical's missing-value indicator; the model one-hot encodes or embeds them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import QuantileTransformer

from metaml.space import Categorical, Parameter

SCALINGS = ("standard", "quantile", "none")
IMPUTATIONS = ("median", "mean")

PREPROCESSING_DEFAULTS = {"scaling": "standard", "imputation": "median"}


def preprocessing_parameters() -> dict[str, Parameter]:
    return {"scaling": Categorical(list(SCALINGS)), "imputation": Categorical(list(IMPUTATIONS))}


@dataclass(frozen=True)
class Encoded:
    """Model inputs: scaled numeric columns (float32) and categorical codes (int64)."""

    numeric: np.ndarray
    codes: np.ndarray


class TabularPreprocessor:
    """Fit on the training rows of ``X``, then transform any rows the same way."""

    def __init__(
        self,
        numeric: tuple[int, ...],
        categorical: tuple[int, ...],
        cardinalities: tuple[int, ...],
        scaling: str = "standard",
        imputation: str = "median",
        seed: int = 0,
    ) -> None:
        if scaling not in SCALINGS or imputation not in IMPUTATIONS:
            raise ValueError(f"scaling must be one of {SCALINGS} and imputation one of {IMPUTATIONS}")
        self.numeric, self.categorical = list(numeric), list(categorical)
        #: levels per categorical column, plus the one code for missing or unseen
        self.cardinalities = tuple(c + 1 for c in cardinalities)
        self.scaling, self.imputation, self.seed = scaling, imputation, seed
        self.fill = np.zeros(0)
        self.indicated: list[int] = []
        self.mean = np.zeros(0)
        self.std = np.ones(0)
        self.quantiles: QuantileTransformer | None = None

    def fit(self, X: np.ndarray) -> TabularPreprocessor:
        num = X[:, self.numeric]
        missing = np.isnan(num)
        with np.errstate(all="ignore"):
            fill = np.nanmedian(num, axis=0) if self.imputation == "median" else np.nanmean(num, axis=0)
        self.fill = np.where(np.isfinite(fill), fill, 0.0) if num.size else np.zeros(num.shape[1])
        self.indicated = [j for j in range(num.shape[1]) if missing[:, j].any()]
        filled = np.where(missing, self.fill, num)
        if self.scaling == "standard" and filled.size:
            self.mean = filled.mean(0)
            std = filled.std(0)
            self.std = np.where(std > 1e-12, std, 1.0)
        elif self.scaling == "quantile" and filled.size:
            self.quantiles = QuantileTransformer(
                n_quantiles=max(2, min(1000, filled.shape[0])),
                output_distribution="normal",
                subsample=10**9,
                random_state=self.seed,
            ).fit(filled)
        return self

    def transform(self, X: np.ndarray) -> Encoded:
        num = X[:, self.numeric]
        missing = np.isnan(num)
        filled = np.where(missing, self.fill, num)
        if self.scaling == "standard" and filled.size:
            filled = (filled - self.mean) / self.std
        elif self.scaling == "quantile" and self.quantiles is not None and filled.size:
            filled = self.quantiles.transform(filled)
        numeric = np.concatenate([filled, missing[:, self.indicated].astype(np.float64)], axis=1)
        codes = np.empty((X.shape[0], len(self.categorical)), dtype=np.int64)
        for i, (j, card) in enumerate(zip(self.categorical, self.cardinalities)):
            column = X[:, j]
            unknown = np.isnan(column) | (column >= card - 1) | (column < 0)
            codes[:, i] = np.where(unknown, card - 1, np.nan_to_num(column, nan=0.0)).astype(np.int64)
        return Encoded(numeric.astype(np.float32), codes)

    @property
    def n_numeric(self) -> int:
        return len(self.numeric) + len(self.indicated)
