"""Data sets: SPHERES generated in memory, images through torchvision."""

from __future__ import annotations

from omegaconf import DictConfig

from topoexp.data.base import DataSplits, as_arrays
from topoexp.data.images import IMAGE_DATASETS, TRANSFORMS, load_image_dataset, register_transform
from topoexp.data.spheres import load_spheres, make_spheres

__all__ = [
    "IMAGE_DATASETS",
    "TRANSFORMS",
    "DataSplits",
    "as_arrays",
    "load_dataset",
    "load_image_dataset",
    "load_spheres",
    "make_spheres",
    "register_transform",
]


def load_dataset(cfg: DictConfig, split_seed: int) -> DataSplits:
    """Build the data set ``cfg`` describes; ``split_seed`` (the run seed) permutes validation."""
    if cfg.name == "spheres":
        return load_spheres(
            n_samples=cfg.n_samples,
            d=cfg.d,
            n_spheres=cfg.n_spheres,
            r=cfg.r,
            data_seed=cfg.data_seed,
            test_fraction=cfg.test_fraction,
            val_fraction=cfg.val_fraction,
            split_seed=split_seed,
        )
    return load_image_dataset(
        cfg.name,
        cfg.root,
        val_fraction=cfg.val_fraction,
        split_seed=split_seed,
        transform=cfg.transform,
        pooled_test_fraction=cfg.pooled_test_fraction,
        pool_seed=cfg.pool_seed,
    )
