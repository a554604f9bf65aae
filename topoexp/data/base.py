"""The container every data set loader returns, and array helpers for evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset


@dataclass(frozen=True)
class DataSplits:
    """The splits of one data set, as the TopoAE protocol uses them.

    Attributes:
        name: data set name.
        fit: the full official training split (train + validation parts).
        train: the training part of ``fit`` (``1 - val_fraction`` of it), a ``Subset``.
        validation: the validation part of ``fit``, a ``Subset``.
        test: the official test split.
        input_shape: shape of one sample (without the batch dimension).
    """

    name: str
    fit: Dataset
    train: Subset
    validation: Subset
    test: Dataset
    input_shape: tuple[int, ...]

    def split(self, name: str) -> Dataset:
        """Return the split called ``name`` (``fit``, ``train``, ``validation`` or ``test``)."""
        if name not in ("fit", "train", "validation", "test"):
            raise KeyError(f"unknown split {name!r}; expected fit, train, validation or test")
        return getattr(self, name)


def as_arrays(dataset: Dataset, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Materialise a data set of ``(x, y)`` pairs as flattened float arrays ``(X, y)``."""
    if isinstance(dataset, torch.utils.data.TensorDataset):
        x, y = dataset.tensors[0], dataset.tensors[1]
        return x.reshape(len(x), -1).numpy(), y.numpy()
    xs, ys = [], []
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        xs.append(x.reshape(len(x), -1).numpy())
        ys.append(np.asarray(y))
    return np.concatenate(xs), np.concatenate(ys)
