"""The tabular fairness benchmarks kept in the shared data folder: adult, german, compas, law_school.

Nothing is downloaded: the files are read from ``METAML_DATA_DIR`` when set, else from
``shared/data`` beside the repository (``<repo>/../shared/data``); their sources, licences
and checksums are in that folder's ``MANIFEST.md``. A missing file raises ``DataError``
naming the path looked at and how to point elsewhere.

Labels are oriented so that class 1 is the outcome fairness metrics compare by default:
income >50K (adult), good credit (german), re-offending within two years (compas), passing
the bar on the first try (law_school).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from metaml.data.dataset import DataError, Dataset
from metaml.data.frame import from_frame, sensitive_columns

DATA_DIR_ENV = "METAML_DATA_DIR"
SHARED_DATASETS = ("adult", "german", "compas", "law_school")

_ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income",
]  # fmt: skip
_GERMAN_COLUMNS = [
    "checking_account", "duration_months", "credit_history", "purpose", "credit_amount", "savings",
    "employment_since", "installment_rate", "personal_status", "other_debtors", "residence_since", "property",
    "age", "other_installment_plans", "housing", "existing_credits", "job", "people_liable", "telephone",
    "foreign_worker", "credit",
]  # fmt: skip
# Attribute 9 of german.doc: A92 and A95 are the female codes, the others male.
_GERMAN_SEX = {"A91": "male", "A92": "female", "A93": "male", "A94": "male", "A95": "female"}
_COMPAS_COLUMNS = [
    "sex", "age", "age_cat", "race", "juv_fel_count", "juv_misd_count", "juv_other_count", "priors_count",
    "c_charge_degree", "days_b_screening_arrest", "is_recid", "score_text", "two_year_recid",
]  # fmt: skip


def data_dir() -> Path:
    """The folder that holds ``adult/``, ``german/``, ...: ``$METAML_DATA_DIR`` or ``<repo>/../shared/data``."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared_file(relative: str) -> Path:
    """The path of one file of the shared data folder; ``DataError`` when it is not there."""
    path = data_dir() / relative
    if not path.is_file():
        raise DataError(
            f"the data file {path} is missing; set {DATA_DIR_ENV} to the folder that holds "
            f"{relative.split('/')[0]}/ (see shared/data/README.md), as nothing is downloaded at run time"
        )
    return path


def load_adult(sensitive: str | Sequence[str] = "sex", include_test: bool = False, keep_sensitive_feature: bool = False) -> Dataset:
    """UCI Adult: does income exceed 50K (class ``>50K`` = 1)? 32,561 rows, 14 features.

    ``include_test`` appends the 16,281 rows of ``adult.test`` as fixed test rows
    (``folds``), so that ``split`` draws validation rows from ``adult.data`` only.
    ``?`` (unknown workclass, occupation, native country) is read as missing.
    Sensitive: ``sex`` (default), ``race``, or any other column.
    """
    read = dict(header=None, names=_ADULT_COLUMNS, na_values="?", skipinitialspace=True)
    frame = pd.read_csv(shared_file("adult/adult.data"), **read)
    frame["fold"] = "train"
    if include_test:
        test = pd.read_csv(shared_file("adult/adult.test"), skiprows=1, **read)
        test["income"] = test["income"].str.rstrip(".")
        test["fold"] = "test"
        frame = pd.concat([frame, test], ignore_index=True)
    return from_frame(
        frame,
        "income",
        name="adult",
        sensitive=sensitive,
        split="fold",
        classes=("<=50K", ">50K"),
        keep_sensitive_feature=keep_sensitive_feature,
    )


def load_german(sensitive: str | Sequence[str] = "sex", keep_sensitive_feature: bool = False) -> Dataset:
    """UCI German credit: is the applicant a good credit risk (``good`` = 1)? 1,000 rows.

    Sensitive: ``sex`` (default; derived from attribute 9, personal status and sex, which
    stays a feature and so still carries sex), ``age_group`` (``25+`` / ``under 25``,
    after Kamiran & Calders 2009), ``foreign_worker`` (``yes``/``no``), or a column.
    """
    frame = pd.read_csv(shared_file("german/german.data"), sep=" ", header=None, names=_GERMAN_COLUMNS)
    frame["credit"] = frame["credit"].map({1: "good", 2: "bad"})
    frame["foreign_worker"] = frame["foreign_worker"].map({"A201": "yes", "A202": "no"})
    frame["sex"] = frame["personal_status"].map(_GERMAN_SEX)
    frame["age_group"] = (frame["age"] >= 25).map({True: "25+", False: "under 25"})
    derived = [c for c in ("sex", "age_group") if c not in sensitive_columns(sensitive)]  # only the chosen ones are kept
    return from_frame(
        frame,
        "credit",
        name="german",
        sensitive=sensitive,
        drop=derived,
        classes=("bad", "good"),
        keep_sensitive_feature=keep_sensitive_feature,
    )


def load_compas(
    sensitive: str | Sequence[str] = "race", propublica_filter: bool = True, keep_sensitive_feature: bool = False
) -> Dataset:
    """ProPublica COMPAS: re-offended within two years (1)? 6,172 rows after ProPublica's filter.

    The filter (from ProPublica's analysis) keeps screenings within 30 days of the arrest,
    known recidivism, non-ordinary charges and a COMPAS score; without it there are 7,214
    rows. Features are demographics, juvenile and prior counts, and the charge degree; the
    COMPAS scores themselves and the recidivism columns are left out. Sensitive: ``race``
    (default), ``sex``, or a column. Its redistribution terms are unclear: never ship it.
    """
    frame = pd.read_csv(shared_file("compas/compas-scores-two-years.csv"), usecols=_COMPAS_COLUMNS)
    if propublica_filter:
        keep = (
            frame["days_b_screening_arrest"].between(-30, 30)
            & (frame["is_recid"] != -1)
            & (frame["c_charge_degree"] != "O")
            & frame["score_text"].notna()  # pandas reads ProPublica's "N/A" as missing
        )
        frame = frame[keep].reset_index(drop=True)
    return from_frame(
        frame,
        "two_year_recid",
        name="compas",
        sensitive=sensitive,
        drop=["days_b_screening_arrest", "is_recid", "score_text"],
        classes=(0, 1),
        keep_sensitive_feature=keep_sensitive_feature,
    )


def load_law_school(sensitive: str | Sequence[str] = "race", keep_sensitive_feature: bool = False) -> Dataset:
    """LSAC law school: passed the bar on the first try (``first_pf`` = 1)? 21,791 rows.

    Features: LSAT, undergraduate GPA, region, Sander index; the first-year grade ``ZFYA``
    is left out (it comes after admission). Sensitive: ``race`` (default, 8 groups) or
    ``sex`` (coded 1/2 as in the source). Workplace use only (no licence stated).
    """
    frame = pd.read_csv(shared_file("law_school/law_data.csv"), index_col=0)
    return from_frame(
        frame,
        "first_pf",
        name="law_school",
        sensitive=sensitive,
        drop=["ZFYA"],
        categorical=[] if sensitive == "sex" and not keep_sensitive_feature else ["sex"],
        classes=(0, 1),
        keep_sensitive_feature=keep_sensitive_feature,
    )
