"""Turn a fitted method and a split into the latents the evaluator scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from topoexp.data.base import DataSplits, as_arrays
from topoexp.models.baselines import has_inverse, has_transform


@dataclass(frozen=True)
class Embedding:
    """Evaluated inputs ``X`` (flattened), their latents, labels and row indices in ``split``."""

    X: np.ndarray
    latents: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    split: str
    data_mse: float | None = None


@torch.no_grad()
def encode_split(
    model: torch.nn.Module, dataset: Dataset, batch_size: int
) -> tuple[np.ndarray, float]:
    """Latents of ``dataset`` in eval mode and the exact mean squared reconstruction error."""
    model.eval()
    device = next(model.parameters()).device
    latents, squared_error, n_values = [], 0.0, 0
    for x, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False):
        x = x.to(device)
        x_hat, z = model(x)
        latents.append(z.reshape(len(z), -1).cpu().numpy())
        squared_error += float(((x_hat - x) ** 2).sum())
        n_values += x.numel()
    return np.concatenate(latents), squared_error / n_values


def embed_autoencoder(
    model: torch.nn.Module, data: DataSplits, split: str, batch_size: int
) -> Embedding:
    dataset = data.split(split)
    X, y = as_arrays(dataset)
    Z, mse = encode_split(model, dataset, batch_size)
    return Embedding(X=X, latents=Z, labels=y, indices=np.arange(len(X)), split=split, data_mse=mse)


def embed_baseline(estimator, data: DataSplits, split: str, seed: int) -> Embedding:
    """Fit on the training part; transform ``split``, or, without a transform (t-SNE), embed a
    seeded subsample of the training part of the split's size (spec §3.1)."""
    X_train, y_train = as_arrays(data.train)
    X_eval, y_eval = as_arrays(data.split(split))
    if not has_transform(estimator):
        Z_train = estimator.fit_transform(X_train)
        idx = np.random.RandomState(seed).permutation(len(X_train))[: len(X_eval)]
        return Embedding(X_train[idx], Z_train[idx], y_train[idx], idx, "train")
    estimator.fit(X_train)
    Z = estimator.transform(X_eval)
    mse = None
    if has_inverse(estimator):
        mse = float(np.mean((X_eval - estimator.inverse_transform(Z)) ** 2))
    return Embedding(X_eval, np.asarray(Z), y_eval, np.arange(len(X_eval)), split, mse)
