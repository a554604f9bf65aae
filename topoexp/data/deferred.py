"""A data set named in the config but loaded later, by the task that needs it.

Components nested in a task's config are built with the task, before any run directory exists;
a :class:`DeferredImageDataset` keeps that cheap (nothing is read) and lets the task load the data
inside the run, where a missing folder is recorded as the run's failure. Its keys are those of
:func:`~topoexp.data.images.load_image_dataset`, so a ``dataset`` option becomes a deferred one by
replacing its ``_target_`` (``conf/task/eval_dataset/*.yaml``).
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Gt, Lt

from topoexp.data.base import DataSplits
from topoexp.data.images import ImageDatasetName, load_image_dataset

__all__ = ["DeferredImageDataset"]


class DeferredImageDataset:
    """``load_image_dataset``'s arguments; calling it with the split seed loads the data."""

    def __init__(
        self,
        name: ImageDatasetName,
        root: str,
        val_fraction: Annotated[float, Gt(0), Lt(1)] = 0.15,
        transform: str = "topoae",
        verify_checksums: bool = True,
        pooled_test_fraction: Annotated[float, Gt(0), Lt(1)] | None = None,
        pool_seed: int = 42,
        fit_subset: Annotated[int, Ge(2)] | None = None,
        test_subset: Annotated[int, Ge(2)] | None = None,
    ) -> None:
        self.name = name
        self.root = root
        self.val_fraction = val_fraction
        self.transform = transform
        self.verify_checksums = verify_checksums
        self.pooled_test_fraction = pooled_test_fraction
        self.pool_seed = pool_seed
        self.fit_subset = fit_subset
        self.test_subset = test_subset

    def __call__(self, split_seed: int = 0) -> DataSplits:
        return load_image_dataset(
            self.name,
            self.root,
            val_fraction=self.val_fraction,
            split_seed=split_seed,
            transform=self.transform,
            verify_checksums=self.verify_checksums,
            pooled_test_fraction=self.pooled_test_fraction,
            pool_seed=self.pool_seed,
            fit_subset=self.fit_subset,
            test_subset=self.test_subset,
        )

    def __repr__(self) -> str:
        return f"DeferredImageDataset({self.name!r}, transform={self.transform!r})"
