"""Directional persistence features of images: the topology-layer paper's 400 MNIST features.

The paper (section 3.3 and appendix A.5) gives a classifier orientation information by filtering
each image ``I`` by its product with fixed height functions

    g_θ(x, y) = cos(θ) x + sin(θ) y,   θ = 0, π/4, …, 7π/4,

each shifted and scaled to run from 0 to 1 over the image, so the filtration values are
``f_θ = I · g_θ``. Persistence diagrams of dimensions 0 and 1 are computed for each filtration
and summarised by ``E(p, q, 1; PD_k)`` (every finite bar, :func:`barcode_energy_grid`) for
``p, q = 0..4``: 8 directions × 2 dimensions × 25 = 400 features.

Here ``x`` is the column and ``y`` the row index (downwards), the filtration runs over superlevel
sets (``sublevel=False``; the paper motivates the directions as what "standard super-level set
persistence" lacks) on the Freudenthal triangulation of the pixel grid (TopologyLayer's
``LevelSetLayer2D`` default), and bars of length 0 are left out (TopologyLayer's
``BarcodePolyFeature``), so ``E(0, 0, 1)`` counts the bars of positive length.

Feature ``j`` of the output is ``E(p, q, 1; PD_k)`` of direction ``d`` with
``j = ((d · n_dims + k) · (max_power + 1) + p) · (max_power + 1) + q`` (:meth:`feature_names`).
The features are differentiable in the pixels: every birth and death is gathered from ``I · g``
at its critical pixel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

import torch
from annotated_types import Ge
from torch import Tensor, nn

from topoexp.config.markers import ArgumentError
from topoexp.topology.features import barcode_energy_grid
from topoexp.topology.layers import LevelSetLayer2D

__all__ = ["DirectionalFeatures", "height_functions"]


def height_functions(height: int, width: int, n_directions: int = 8) -> Tensor:
    """``(n_directions, height, width)`` height functions ``g_θ``, θ = 2πk / n, each in [0, 1].

    ``g_θ(x, y) = cos θ · x + sin θ · y`` over column ``x`` and row ``y``, shifted and scaled so
    that its minimum over the grid is 0 and its maximum 1 (float64).
    """
    if n_directions < 1:
        raise ValueError(f"n_directions must be positive, got {n_directions}")
    if height < 2 or width < 2:
        raise ValueError(f"the image needs at least 2 × 2 pixels, got {height} × {width}")
    rows, cols = torch.meshgrid(
        torch.arange(height, dtype=torch.float64),
        torch.arange(width, dtype=torch.float64),
        indexing="ij",
    )
    out = []
    for k in range(n_directions):
        theta = 2 * math.pi * k / n_directions
        c, s = round(math.cos(theta), 12), round(math.sin(theta), 12)  # exact 0 / ±1 on the axes
        g = c * cols + s * rows
        out.append((g - g.min()) / (g.max() - g.min()))
    return torch.stack(out)


class DirectionalFeatures(nn.Module):
    """Images ``(N, 1, H, W)``, ``(N, H, W)`` or ``(N, H·W)`` → ``(N, n_features)`` features.

    Args:
        size: ``(height, width)`` of the images.
        n_directions: height functions at angles ``2πk / n_directions``.
        max_power: ``p`` and ``q`` run over ``0..max_power``.
        dims: homology dimensions summarised (0 and/or 1).
        sublevel: filter by sublevel sets of ``I · g`` (superlevel sets by default).
        complex: triangulation of the pixel grid (``LevelSetLayer2D``'s ``complex``).
        chunk: images per persistence call (bounds memory; the result does not depend on it).
    """

    def __init__(
        self,
        size: Sequence[int] = (28, 28),
        n_directions: Annotated[int, Ge(1)] = 8,
        max_power: Annotated[int, Ge(0)] = 4,
        dims: Sequence[int] = (0, 1),
        sublevel: bool = False,
        complex: Literal["freudenthal", "grid", "delaunay"] = "freudenthal",
        chunk: Annotated[int, Ge(1)] = 512,
    ) -> None:
        super().__init__()
        if len(size) != 2 or min(size) < 2:
            raise ArgumentError("size", f"(height, width) of at least 2 each, got {list(size)}")
        height, width = (int(s) for s in size)
        dims = tuple(int(d) for d in dims)
        if not dims or any(d not in (0, 1) for d in dims) or len(set(dims)) != len(dims):
            raise ArgumentError("dims", f"distinct values among 0 and 1, got {list(dims)}")
        if not isinstance(max_power, int) or max_power < 0:
            raise ArgumentError("max_power", f"a non-negative int, got {max_power!r}")
        if chunk < 1:
            raise ArgumentError("chunk", f"a positive int, got {chunk}")
        self.size = (height, width)
        self.n_directions, self.max_power, self.dims = int(n_directions), max_power, dims
        self.sublevel, self.complex, self.chunk = bool(sublevel), complex, int(chunk)
        self.layer = LevelSetLayer2D((width, height), max(dims), self.sublevel, complex)
        self.register_buffer(
            "heights",
            height_functions(height, width, self.n_directions).reshape(self.n_directions, -1),
            persistent=False,
        )

    @property
    def n_features(self) -> int:
        return self.n_directions * len(self.dims) * (self.max_power + 1) ** 2

    def feature_names(self) -> list[str]:
        """``E(p,q;PDk;dir=d)`` for every output column, in order."""
        powers = range(self.max_power + 1)
        return [
            f"E({p},{q};PD{k};dir={d})"
            for d in range(self.n_directions)
            for k in self.dims
            for p in powers
            for q in powers
        ]

    def filtrations(self, images: Tensor) -> Tensor:
        """``(N, n_directions, H·W)`` filtration values ``I · g_θ``."""
        height, width = self.size
        n = images.shape[0] if images.ndim else 0
        if images.ndim not in (2, 3, 4) or images[0].numel() != height * width:
            raise ValueError(
                f"expected images (N, 1, {height}, {width}), (N, {height}, {width}) or "
                f"(N, {height * width}), got {tuple(images.shape)}"
            )
        flat = images.reshape(n, 1, height * width)
        return flat * self.heights.to(flat.dtype)

    def _features(self, images: Tensor) -> Tensor:
        f = self.filtrations(images)
        bars = self.layer.barcodes(f)
        grids = [barcode_energy_grid(bars[k].diagram, bars[k].sublevel, self.max_power,
                                     self.max_power) for k in self.dims]  # fmt: skip
        # (N, D, P, Q) per dimension → (N, D, K, P, Q) → flat, direction-major
        return torch.stack(grids, 2).reshape(len(images), -1)

    def forward(self, images: Tensor) -> Tensor:
        if not images.is_floating_point():
            raise ValueError(f"images must be floating point, got {images.dtype}")
        parts = [self._features(images[s : s + self.chunk])
                 for s in range(0, len(images), self.chunk)]  # fmt: skip
        if not parts:
            return images.new_zeros((0, self.n_features))
        return torch.cat(parts)
