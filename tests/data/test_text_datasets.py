"""The text datasets: the generated fallback everywhere, SST-2, TREC and SMS spam where the shared data is."""

from __future__ import annotations

import numpy as np
import pytest

from metaml.data import DataError, data_dir, load_text_dataset


def test_the_generated_fallback_is_seeded_balanced_and_split_60_20_20() -> None:
    data = load_text_dataset("toy_sentiment")
    again = load_text_dataset("toy_sentiment")
    assert data.texts == again.texts and data.content_hash() == again.content_hash()
    assert len(data.texts) == 240 and np.bincount(data.y).tolist() == [120, 120]
    split = data.split(0)
    assert (len(split.train), len(split.val), len(split.test)) == (144, 48, 48)
    assert not set(split.train) & set(split.val) and not set(split.val) & set(split.test)
    assert np.bincount(data.y[split.test]).tolist() == [24, 24]  # stratified
    assert not np.array_equal(data.split(1).test, split.test) and np.array_equal(data.split(0).test, split.test)


def test_an_unknown_name_lists_the_text_datasets() -> None:
    with pytest.raises(DataError, match="unknown text dataset 'imdb'; choose one of sst2, trec, sms_spam"):
        load_text_dataset("imdb")


def _shared(folder: str) -> None:
    if not (data_dir() / folder).is_dir():
        pytest.skip(f"{folder} is not in {data_dir()} (set METAML_DATA_DIR)")


def test_sst2_keeps_its_dev_and_test_files_as_validation_and_test() -> None:
    _shared("sst2")
    data = load_text_dataset("sst2")
    split = data.split(0)
    assert (len(split.train), len(split.val), len(split.test)) == (6920, 872, 1821)
    assert np.bincount(data.y[split.val]).tolist() == [428, 444]  # MANIFEST.md's counts
    assert np.array_equal(data.split(7).val, split.val)  # fixed by the source, not the seed


def test_trec_draws_validation_from_its_training_file_and_tests_on_the_official_500() -> None:
    _shared("trec")
    data = load_text_dataset("trec")
    split = data.split(0)
    assert data.n_classes == 6 and len(split.test) == 500
    assert len(split.train) + len(split.val) == 5452 and len(split.val) == pytest.approx(0.2 * 5452, abs=6)


def test_sms_spam_has_the_official_counts() -> None:
    _shared("sms_spam")
    data = load_text_dataset("sms_spam")
    assert np.bincount(data.y).tolist() == [4827, 747]
    assert sum(map(len, (data.split(0).train, data.split(0).val, data.split(0).test))) == 5574
