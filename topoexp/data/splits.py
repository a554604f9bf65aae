"""Seeded splits used by the TopoAE protocol (spec §1.1, §1.3)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split


def train_test_indices(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled, unstratified split as ``train_test_split(..., random_state=RandomState(seed))``.

    Returns the train and test row indices into the full array, in split order.
    """
    idx = np.arange(n)
    train_idx, test_idx = train_test_split(
        idx, test_size=test_fraction, random_state=np.random.RandomState(seed)
    )
    return train_idx, test_idx


def validation_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Permutation split: the first ``floor((1 - val_fraction) n)`` indices train, the rest
    validate.

    Mirrors the original ``split_validation`` with a ``RandomState`` seeded by the run seed.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    perm = np.random.RandomState(seed).permutation(n)
    n_train = int(np.floor((1.0 - val_fraction) * n))
    return perm[:n_train], perm[n_train:]
