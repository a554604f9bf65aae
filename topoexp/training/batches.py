"""Batch sources of the engine: a data set held as one tensor on the device, or a DataLoader.

:class:`MemoryBatches` materialises a split once (uint8 where the split's images are MNIST-like
bytes under ``ToTensor`` and an optional ``Normalize``, else the float values its fixed
transforms give) on the training device; a batch is an index gather from a seeded permutation.
The permutation is the one ``DataLoader(shuffle=True, generator=g)`` draws: its iterator takes
one ``int64`` from ``g`` (the workers' base seed), then ``RandomSampler`` draws
``torch.randperm(n, generator=g)``, and once the pass is exhausted a second, unused one (its
``randperm(n)[: num_samples % n]``). :class:`MemoryBatches` takes the same draws at the same
moments, so for the same seed the batches, their order and every later random stream equal
today's loader, bit for bit (``tests/test_engine.py``); an unshuffled pass takes the loader's
one draw from the global stream too. :class:`LoaderBatches` is the DataLoader path itself
(``trainer.batches=loader``); a split too large to hold (over :data:`MEMORY_LIMIT` bytes as
floats) falls back to it.
:class:`StreamBatches` is the iteration loop's source: a permutation per pass, resumable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

__all__ = [
    "BatchSource",
    "DeviceData",
    "LoaderBatches",
    "MemoryBatches",
    "StreamBatches",
    "epoch_batches",
    "materialise",
]

BatchSource = Literal["memory", "loader"]
#: Largest split (bytes of its float inputs) held in memory; larger ones use the DataLoader.
MEMORY_LIMIT = 8 * 2**30

log = logging.getLogger("topoexp")


@dataclass(frozen=True)
class DeviceData:
    """A split as one tensor ``stored`` on the device; ``decode`` turns gathered rows into the
    float values the split's transform gives (identity for float storage)."""

    stored: Tensor
    decode: Callable[[Tensor], Tensor]

    def __len__(self) -> int:
        return len(self.stored)

    def rows(self, idx: Tensor) -> Tensor:
        return self.decode(self.stored[idx])


def _float_bytes(x: Tensor) -> Tensor:
    return x.unsqueeze(1).to(torch.float32).div(255)


def _mnist_bytes(dataset: Dataset) -> tuple[Tensor, Callable[[Tensor], Tensor]] | None:
    """uint8 images and their decoder when ``dataset`` (or a ``Subset`` of it) is an MNIST-like
    split under ``ToTensor`` or ``ToTensor, Normalize``: the decoder repeats those operations."""
    from torchvision import transforms as T
    from torchvision.datasets import MNIST

    indices = None
    if isinstance(dataset, Subset):
        indices = torch.as_tensor(dataset.indices, dtype=torch.int64)
        dataset = dataset.dataset
    if not isinstance(dataset, MNIST):
        return None
    steps = list(getattr(dataset.transform, "transforms", [dataset.transform]))
    if not steps or not isinstance(steps[0], T.ToTensor) or len(steps) > 2:
        return None
    decode: Callable[[Tensor], Tensor] = _float_bytes
    if len(steps) == 2:
        norm = steps[1]
        if not isinstance(norm, T.Normalize) or norm.inplace:
            return None

        def decode(x: Tensor, norm=norm) -> Tensor:
            y = _float_bytes(x)
            mean = torch.as_tensor(norm.mean, dtype=y.dtype, device=y.device).view(-1, 1, 1)
            std = torch.as_tensor(norm.std, dtype=y.dtype, device=y.device).view(-1, 1, 1)
            return y.sub_(mean).div_(std)

    data = dataset.data if indices is None else dataset.data[indices]
    return data, decode


def materialise(dataset: Dataset, device: torch.device | str = "cpu") -> DeviceData:
    """The inputs ``x`` of a data set of ``(x, y)`` pairs as one tensor on ``device``.

    Reads every item once, in order, without touching the global random stream.
    """
    raw = _mnist_bytes(dataset)
    if raw is not None:
        return DeviceData(raw[0].to(device), raw[1])
    if isinstance(dataset, TensorDataset):
        return DeviceData(dataset.tensors[0].to(device), _identity)
    private = torch.Generator()  # the loader's seed draw comes from here, not the global stream
    loader = DataLoader(dataset, batch_size=1024, shuffle=False, generator=private)
    return DeviceData(torch.cat([x for x, *_ in loader]).to(device), _identity)


def _identity(x: Tensor) -> Tensor:
    return x


class MemoryBatches:
    """Batches of a :class:`DeviceData`, in the order ``DataLoader`` gives for ``generator``.

    ``labels``: batches are ``(x, labels[idx])`` pairs. ``loader_draw=False`` skips the
    loader's seed draw (loops that draw ``randperm(n, generator)`` per epoch themselves).
    """

    def __init__(
        self,
        data: DeviceData,
        batch_size: int,
        shuffle: bool,
        drop_last: bool,
        generator: torch.Generator | None = None,
        labels: Tensor | None = None,
        loader_draw: bool = True,
    ) -> None:
        self.data, self.batch_size = data, batch_size
        self.shuffle, self.drop_last, self.generator = shuffle, drop_last, generator
        self.labels, self.loader_draw = labels, loader_draw

    def __len__(self) -> int:
        n, b = len(self.data), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.data)
        if self.loader_draw:
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.data.stored.device)
        else:
            order = torch.arange(n, device=self.data.stored.device)
        for k in range(len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            x = self.data.rows(idx)
            yield x if self.labels is None else (x, self.labels[idx])
        if self.loader_draw and self.shuffle:  # RandomSampler's trailing randperm(n)[: 0]
            torch.randperm(n, generator=self.generator)


class LoaderBatches:
    """Today's path: the inputs of ``DataLoader(dataset, ...)`` moved to ``device``."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        shuffle: bool,
        drop_last: bool,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.loader = DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            generator=generator,
        )
        self.device = torch.device(device)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Tensor]:
        for x, *_ in self.loader:
            yield x.to(self.device, non_blocking=True)


def epoch_batches(
    source: BatchSource,
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    drop_last: bool,
    generator: torch.Generator | None,
    device: torch.device | str,
) -> MemoryBatches | LoaderBatches:
    """The batch source called ``source`` (``memory`` or ``loader``) over ``dataset``."""
    if source == "memory":
        return MemoryBatches(
            materialise(dataset, device), batch_size, shuffle, drop_last, generator
        )
    return LoaderBatches(dataset, batch_size, shuffle, drop_last, generator, device)


class StreamBatches:
    """Index batches of ``batch_size`` of ``n`` items for an iteration schedule: a seeded
    permutation per pass, the last incomplete batch of a pass dropped; resumable."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if n < batch_size:
            raise ValueError(f"{n} training images cannot fill a batch of {batch_size}")
        self.n, self.batch_size = n, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n, generator=self.generator)
        self.pos = 0

    def next(self) -> Tensor:
        if self.pos + self.batch_size > self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.generator), 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "perm": self.perm, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.perm, self.pos = state["perm"], int(state["pos"])
