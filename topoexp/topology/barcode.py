"""The barcode value type: one homology dimension of one filtration, with its critical cells.

A :class:`Barcode` holds births and deaths as tensors that are differentiable in the filtration's
input (they are gathered from it at the critical cells), the cells themselves, the homology
dimension and whether the filtration runs over sublevel or superlevel sets.

Conventions (those of TopologyLayer, spec B.1):

- every bar is kept, zero-length bars included, so the number of bars is fixed by the complex;
- an infinite (essential) bar has death ``+inf`` for a sublevel and ``-inf`` for a superlevel
  filtration, and its death cell is ``-1``; infinite deaths carry no gradient;
- superlevel bars have ``birth >= death`` (the values of the input, not of its negation).

Critical cells are rows of vertex indices: one column for lower-star (level-set) filtrations, where
each value is the input at one vertex, two columns ``(i, j)`` for flag (Rips, weak alpha)
filtrations, where each value is the length of the edge ``{i, j}``; a vertex of a flag filtration
(value 0) is the row ``(v, v)``. Batched barcodes carry leading batch dimensions on every tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Barcode", "diagrams"]


@dataclass(frozen=True)
class Barcode:
    """Bars of one homology dimension: ``births[..., k]``, ``deaths[..., k]`` (±inf if essential).

    Attributes:
        births, deaths: float tensors of shape ``(..., k)``, differentiable in the input.
        dim: homology dimension.
        birth_cells, death_cells: int64 tensors ``(..., k, c)``: the vertex (c = 1) or edge
            (c = 2) whose value is the birth / death; ``-1`` rows for infinite deaths.
        sublevel: True for sublevel sets (birth <= death), False for superlevel sets.
    """

    births: Tensor
    deaths: Tensor
    dim: int
    birth_cells: Tensor
    death_cells: Tensor
    sublevel: bool = True

    def __post_init__(self) -> None:
        if self.births.shape != self.deaths.shape:
            raise ValueError(
                f"births {tuple(self.births.shape)} and deaths {tuple(self.deaths.shape)} differ"
            )
        for name, cells in (("birth_cells", self.birth_cells), ("death_cells", self.death_cells)):
            if cells.shape[:-1] != self.births.shape:
                raise ValueError(
                    f"{name} has shape {tuple(cells.shape)}, expected {tuple(self.births.shape)}"
                    " plus one column per cell vertex"
                )

    @property
    def diagram(self) -> Tensor:
        """``(..., k, 2)`` rows (birth, death): TopologyLayer's diagram format."""
        return torch.stack((self.births, self.deaths), dim=-1)

    @property
    def is_finite(self) -> Tensor:
        """Boolean ``(..., k)``: the bar has a finite death."""
        return torch.isfinite(self.deaths)

    @property
    def lengths(self) -> Tensor:
        """``|death - birth|`` with 0 for infinite bars, ``(..., k)``."""
        length = (self.deaths - self.births).abs()
        return torch.where(self.is_finite, length, torch.zeros_like(length))

    def __len__(self) -> int:
        return int(self.births.shape[-1])


def diagrams(barcodes: list[Barcode] | tuple[Barcode, ...]) -> tuple[Tensor, ...]:
    """TopologyLayer's ``dgms``: one ``(..., k, 2)`` tensor per homology dimension 0..maxdim."""
    return tuple(b.diagram for b in barcodes)
