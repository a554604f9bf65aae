"""The SPHERES data set of the TopoAE paper (spec §1.1)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import torch
from annotated_types import Ge, Gt, Lt
from torch.utils.data import Subset, TensorDataset

from topoexp.capabilities import VECTORS, offers
from topoexp.config.markers import BUILD_ARG
from topoexp.data.base import DataSplits
from topoexp.data.splits import train_test_indices, validation_indices

Fraction = Annotated[float, Gt(0), Lt(1)]


def _sample_sphere(n: int, d: int, r: float) -> np.ndarray:
    """``n`` points uniformly on the d-sphere of radius ``r`` in R^(d+1), global legacy RNG."""
    points = np.random.randn(n, d + 1)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return r * points


def make_spheres(
    n_samples: int = 500,
    d: int = 100,
    n_spheres: int = 11,
    r: float = 5.0,
    seed: int = 42,
    big_factor: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Ten small d-spheres with random shifts inside one large enclosing sphere.

    Follows the original generator exactly, including its use of the legacy global NumPy RNG
    (``np.random.seed``; the global state is reset) and its draw order: the shift matrix (one
    unused row) first, then the ``n_spheres - 1`` small spheres, then the enclosing sphere of
    ``big_factor * n_samples`` points and radius ``5 r``. The original's ``big_factor`` is 10 (as
    many points as the ten small spheres together); the reproduction study describes the big
    sphere as holding twice as many as the small ones combined (``big_factor = 20``). The
    enclosing sphere is drawn last, so the small spheres do not depend on ``big_factor``.

    Returns:
        X: float32 array of shape ((n_spheres - 1) * n_samples + big_factor * n_samples, d + 1).
        y: int64 labels, 0 .. n_spheres - 2 for the small spheres and n_spheres - 1 for the big one.
    """
    np.random.seed(seed)
    shift_std = 10.0 / np.sqrt(d)
    shifts = np.random.normal(0.0, shift_std, size=(n_spheres, d + 1))
    parts = [_sample_sphere(n_samples, d, r) + shifts[i] for i in range(n_spheres - 1)]
    parts.append(_sample_sphere(big_factor * n_samples, d, 5 * r))
    X = np.concatenate(parts, axis=0).astype(np.float32)
    y = np.concatenate(
        [np.full(n_samples, i) for i in range(n_spheres - 1)]
        + [np.full(big_factor * n_samples, n_spheres - 1)]
    ).astype(np.int64)
    return X, y


@offers(VECTORS)
def load_spheres(
    name: Literal["spheres"] = "spheres",
    n_samples: Annotated[int, Ge(1)] = 500,
    d: Annotated[int, Ge(1)] = 100,
    n_spheres: Annotated[int, Ge(2)] = 11,
    r: Annotated[float, Gt(0)] = 5.0,
    data_seed: int = 42,
    test_fraction: Fraction = 0.1,
    val_fraction: Fraction = 0.15,
    standardise: bool = True,
    big_factor: Annotated[int, Ge(1)] = 10,
    split_seed: Annotated[int, BUILD_ARG] = 0,
) -> DataSplits:
    """SPHERES split and normalised as in the original code (spec §1.1, §1.3).

    The generator and the 90/10 train/test split use ``data_seed``; features are z-scored with the
    statistics (mean, population std) of the training split (``standardise``; false keeps the
    raw coordinates, as the reproduction study's diagrams suggest); the validation part is a
    seeded permutation (``split_seed``, the run seed) of the training split. ``big_factor``: the
    enclosing sphere's points in multiples of ``n_samples`` (:func:`make_spheres`). ``name`` is
    the data set's label in run directories and tables.
    """
    X, y = make_spheres(n_samples, d, n_spheres, r, data_seed, big_factor)
    train_idx, test_idx = train_test_indices(len(X), test_fraction, data_seed)
    X_train, X_test = X[train_idx], X[test_idx]
    if standardise:
        mean, std = X_train.mean(axis=0), X_train.std(axis=0)
        X_train = (X_train - mean) / std
        X_test = (X_test - mean) / std
    fit = TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y[train_idx]))
    test = TensorDataset(torch.from_numpy(X_test), torch.from_numpy(y[test_idx]))
    tr, va = validation_indices(len(fit), val_fraction, split_seed)
    return DataSplits(
        name=name,
        fit=fit,
        train=Subset(fit, tr.tolist()),
        validation=Subset(fit, va.tolist()),
        test=test,
        input_shape=(d + 1,),
    )
