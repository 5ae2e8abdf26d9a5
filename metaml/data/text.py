"""Text classification datasets, read from disk only: SST-2, TREC, SMS spam, and a generated fallback.

- ``sst2``: the sentence-level Stanford Sentiment Treebank (Kim 2014's split, 6,920 train /
  872 dev / 1,821 test sentences), binary; the dev file is the validation split and the test
  file the held-out test split, as the source fixes them.
- ``trec``: TREC question classification (Li & Roth 2002), 6 classes, 5,452 training and
  500 test questions; the validation rows are a seeded, stratified 20 % of the training file.
- ``sms_spam``: the UCI SMS Spam Collection (5,574 messages, ham/spam), split 60/20/20,
  seeded and stratified.
- ``toy_sentiment``: 240 short sentences generated from a fixed vocabulary (no file needed),
  so that tests and demos run on any machine; split 60/20/20.

The three real ones live in the shared data folder (``$METAML_DATA_DIR`` or
``<repo>/../shared/data``; see its MANIFEST.md). A missing file raises ``DataError`` naming
the path. ``TextDataset.content_hash()`` is recorded with every trial.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from metaml.data.dataset import DataError, Dataset, Split
from metaml.data.shared import shared_file

TEXT_DATASETS = ("sst2", "trec", "sms_spam", "toy_sentiment")


@dataclass(frozen=True, eq=False)
class TextDataset:
    """Texts with integer labels ``0..k-1`` (naming ``class_names``) and the folds the source fixes.

    ``folds`` holds ``train``/``val``/``test`` per text where the source fixes a split (a
    separate dev or test file), else ``None``; ``split`` draws the missing parts from the
    training rows, seeded and stratified.
    """

    name: str
    texts: tuple[str, ...]
    y: np.ndarray
    class_names: tuple[str, ...]
    folds: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.y) or len(self.texts) == 0:
            raise DataError(f"dataset {self.name!r}: {len(self.texts)} texts but {len(self.y)} labels")
        if self.y.min() < 0 or self.y.max() >= len(self.class_names):
            raise DataError(f"dataset {self.name!r}: labels must be class indices 0..{len(self.class_names) - 1}")

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def content_hash(self) -> str:
        """sha256 (hex) of the texts, labels, class names and folds (not the dataset's name)."""
        h = hashlib.sha256(b"metaml-text-v1")
        for tag, payload in (
            ("texts", "\x1e".join(self.texts).encode()),
            ("y", np.ascontiguousarray(self.y, dtype="<i8").tobytes()),
            ("classes", "\x1f".join(self.class_names).encode()),
            ("folds", b"<none>" if self.folds is None else "\x1f".join(self.folds.tolist()).encode()),
        ):
            h.update(f"|{tag}:{len(payload)}|".encode())
            h.update(payload)
        return h.hexdigest()

    def split(self, seed: int, val: float = 0.2, test: float = 0.2) -> Split:
        """Seeded, stratified train/validation/test indices, keeping the folds the source fixes."""
        rows = Dataset(self.name, np.zeros((len(self.y), 1)), self.y, ("row",), self.class_names, folds=self.folds)
        return rows.split(seed, val, test)


def load_text_dataset(name: str) -> TextDataset:
    """The text dataset ``name`` (one of ``TEXT_DATASETS``); an unknown name says which exist."""
    loaders: dict[str, Callable[[], TextDataset]] = {
        "sst2": load_sst2, "trec": load_trec, "sms_spam": load_sms_spam, "toy_sentiment": load_toy_sentiment,
    }  # fmt: skip
    if name not in loaders:
        raise DataError(f"unknown text dataset {name!r}; choose one of {', '.join(TEXT_DATASETS)}")
    return loaders[name]()


def load_sst2() -> TextDataset:
    """SST-2, sentence level: ``<label> <sentence>`` lines; dev is the validation split, test the test split."""
    parts = [(fold, _labelled_lines(f"sst2/stsa.binary.{file}")) for fold, file in
             (("train", "train"), ("val", "dev"), ("test", "test"))]  # fmt: skip
    return _from_parts("sst2", parts, ("negative", "positive"))


def load_trec() -> TextDataset:
    """TREC-6 questions: ``<label> <question>`` lines; the official test file is the test split."""
    parts = [("train", _labelled_lines("trec/TREC.train.all")), ("test", _labelled_lines("trec/TREC.test.all"))]
    # the file codes the six coarse classes 0..5 without naming them
    return _from_parts("trec", parts, tuple(str(c) for c in range(6)))


def load_sms_spam() -> TextDataset:
    """The SMS Spam Collection: tab-separated ``ham|spam`` and the message (a header line is skipped)."""
    path = shared_file("sms_spam/SMSSpamCollection")
    texts, labels = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("Label\t"):
            continue
        label, _, text = line.partition("\t")
        if label not in ("ham", "spam"):
            raise DataError(f"{path}, line {number}: the label {label!r} is neither ham nor spam")
        texts.append(text)
        labels.append(int(label == "spam"))
    return TextDataset("sms_spam", tuple(texts), np.asarray(labels, dtype=np.int64), ("ham", "spam"))


_POSITIVE = ("good", "great", "wonderful", "moving", "funny", "brilliant", "charming", "solid")
_NEGATIVE = ("bad", "dull", "awful", "boring", "tedious", "clumsy", "flat", "weak")
_SUBJECTS = ("the film", "this movie", "the plot", "the acting", "the script", "the ending")
_FILLERS = ("really", "quite", "rather", "truly", "often", "mostly")


def load_toy_sentiment(n: int = 240) -> TextDataset:
    """``n`` generated sentences ("the plot is really dull .") with their sentiment; no file needed."""
    rng = np.random.default_rng(20261203)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        word = rng.choice(_POSITIVE if label else _NEGATIVE)
        distractor = rng.choice(_NEGATIVE if label else _POSITIVE)
        subject, filler = rng.choice(_SUBJECTS), rng.choice(_FILLERS)
        # a weaker opposite cue in a third of the sentences keeps the task from being trivial
        tail = f" , not {distractor}" if rng.random() < 0.33 else ""
        texts.append(f"{subject} is {filler} {word}{tail} .")
        labels.append(label)
    return TextDataset("toy_sentiment", tuple(texts), np.asarray(labels, dtype=np.int64), ("negative", "positive"))


def _labelled_lines(relative: str) -> list[tuple[int, str]]:
    path = shared_file(relative)
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        label, _, text = line.partition(" ")
        if not label.isdigit():
            raise DataError(f"{path}, line {number}: expected '<label> <text>', got {line[:40]!r}")
        out.append((int(label), text.strip()))
    return out


def _from_parts(name: str, parts: list[tuple[str, list[tuple[int, str]]]], classes: tuple[str, ...]) -> TextDataset:
    texts = tuple(text for _, rows in parts for _, text in rows)
    y = np.asarray([label for _, rows in parts for label, _ in rows], dtype=np.int64)
    folds = np.asarray([fold for fold, rows in parts for _ in rows])
    return TextDataset(name, texts, y, classes, folds)
