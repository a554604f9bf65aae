"""A split as whole tensors: fast for torchvision's MNIST-like data sets, a loader otherwise."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision.datasets import MNIST

__all__ = ["split_tensors"]


def _raw_mnist(dataset: Dataset) -> tuple[Tensor, Tensor] | None:
    """``(uint8 images (N, 28, 28), labels)`` of an MNIST-like split whose transform is
    ``ToTensor`` only (possibly inside one ``Compose``), or a ``Subset`` of one; else ``None``."""
    indices = None
    if isinstance(dataset, Subset):
        indices = torch.as_tensor(dataset.indices, dtype=torch.int64)
        dataset = dataset.dataset
    if not isinstance(dataset, MNIST) or dataset.target_transform is not None:
        return None
    steps = getattr(dataset.transform, "transforms", [dataset.transform])
    if [type(s).__name__ for s in steps] != ["ToTensor"]:
        return None
    images, labels = dataset.data, torch.as_tensor(dataset.targets, dtype=torch.int64)
    if indices is not None:
        images, labels = images[indices], labels[indices]
    return images, labels


def split_tensors(dataset: Dataset, batch_size: int = 2048) -> tuple[Tensor, Tensor]:
    """``(images, labels)`` of a whole split, images float32 as the split's transform gives them.

    MNIST and Fashion-MNIST with ``ToTensor`` alone (the ``corel`` transform) are read from the
    data set's uint8 tensor at once (uint8 / 255, what ``ToTensor`` computes); any other split is
    materialised through a ``DataLoader``.
    """
    raw = _raw_mnist(dataset)
    if raw is not None:
        images, labels = raw
        return images.unsqueeze(1).to(torch.float32).div_(255.0), labels
    xs, ys = [], []
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        xs.append(x.to(torch.float32))
        ys.append(torch.as_tensor(y, dtype=torch.int64))
    return torch.cat(xs), torch.cat(ys)
