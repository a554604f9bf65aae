"""PATTERNS: a tiny synthetic image data set for fast end-to-end runs of image tasks.

Each class is a fixed random template in [0, 1]; its images are the template plus Gaussian noise,
clipped to [0, 1]. Generated in memory from ``data_seed``, so tests need no files.
"""

from __future__ import annotations

from typing import Annotated

import torch
from annotated_types import Ge, Gt, Lt
from torch.utils.data import Subset, TensorDataset

from topoexp.capabilities import IMAGES, UNIT_INTERVAL, offers
from topoexp.config.markers import BUILD_ARG
from topoexp.data.base import DataSplits
from topoexp.data.splits import validation_indices

__all__ = ["load_patterns", "make_patterns"]


def make_patterns(
    templates: torch.Tensor, n_per_class: int, noise: float, generator: torch.Generator
) -> TensorDataset:
    """``n_per_class`` noisy copies of each template, clipped to [0, 1], sorted by class."""
    labels = torch.arange(len(templates)).repeat_interleave(n_per_class)
    shape = (len(labels), *templates.shape[1:])
    x = templates[labels] + noise * torch.randn(shape, generator=generator)
    return TensorDataset(x.clamp(0.0, 1.0), labels)


@offers(IMAGES, UNIT_INTERVAL)
def load_patterns(
    name: str = "patterns",
    n_per_class: Annotated[int, Ge(2)] = 40,
    n_test_per_class: Annotated[int, Ge(1)] = 20,
    n_classes: Annotated[int, Ge(2)] = 3,
    channels: Annotated[int, Ge(1)] = 1,
    image_size: Annotated[int, Ge(1)] = 32,
    noise: Annotated[float, Ge(0)] = 0.2,
    data_seed: int = 0,
    val_fraction: Annotated[float, Gt(0), Lt(1)] = 0.25,
    split_seed: Annotated[int, BUILD_ARG] = 0,
) -> DataSplits:
    """Training (``fit``, split into train / validation) and test images of every class."""
    g = torch.Generator().manual_seed(data_seed)
    templates = torch.rand(n_classes, channels, image_size, image_size, generator=g)
    fit = make_patterns(templates, n_per_class, noise, g)
    test = make_patterns(templates, n_test_per_class, noise, g)
    tr, va = validation_indices(len(fit), val_fraction, split_seed)
    return DataSplits(
        name=name,
        fit=fit,
        train=Subset(fit, tr.tolist()),
        validation=Subset(fit, va.tolist()),
        test=test,
        input_shape=tuple(fit.tensors[0].shape[1:]),
    )
