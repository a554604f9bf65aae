"""Data sets: SPHERES generated in memory, images through torchvision."""

from __future__ import annotations

from topoexp.data.base import DataSplits, as_arrays
from topoexp.data.images import IMAGE_DATASETS, TRANSFORMS, load_image_dataset, register_transform
from topoexp.data.spheres import load_spheres, make_spheres

__all__ = [
    "IMAGE_DATASETS",
    "TRANSFORMS",
    "DataSplits",
    "as_arrays",
    "load_image_dataset",
    "load_spheres",
    "make_spheres",
    "register_transform",
]
