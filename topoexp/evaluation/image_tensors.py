"""MNIST-like splits as whole tensors in [0, 1] (what the generative models decode to)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from topoexp.data.images import load_image_dataset

__all__ = ["MNIST_LIKE", "image_tensors"]

MNIST_LIKE = ("mnist", "fmnist")


def image_tensors(name: str, root: str | Path, split: str = "test") -> tuple[Tensor, Tensor]:
    """``(images, labels)`` of the official ``fit`` (training) or ``test`` split.

    Images are float32 ``(N, 1, 28, 28)`` equal to torchvision's ``ToTensor`` (uint8 / 255), read
    in one piece from the data set's tensors instead of image by image.
    """
    if name not in MNIST_LIKE:
        raise ValueError(f"name must be one of {MNIST_LIKE}, got {name!r}")
    if split not in ("fit", "test"):
        raise ValueError(f"split must be 'fit' or 'test', got {split!r}")
    splits = load_image_dataset(name, root, transform="corel")
    ds = splits.fit if split == "fit" else splits.test
    images = ds.data.unsqueeze(1).to(torch.float32).div_(255.0)
    return images, torch.as_tensor(ds.targets, dtype=torch.int64)
