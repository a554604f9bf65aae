"""The topology-layer paper's generator prior: E(1, 0, 2; PD0) of each image's superlevel sets.

Images (pixel values in [-1, 1]) are filtered by superlevel sets on a triangulated grid
(:class:`~topoexp.topology.layers.LevelSetLayer2D`, ``complex="delaunay"`` as the original
example, spec B.5). The cost of one image is

    E(p, q, i0; PD0) = Σ_{i ≥ i0} |d_i − b_i|^p ((d_i + b_i) / 2)^q,  bars by decreasing length,

with the essential bar's death clipped to ``clip_infinite`` (−1, the pixel minimum) so that it
is bar 1 (spec B.2): ``E(1, 0, 2; PD0)`` is then the sum of every finite H0 bar, zero exactly
when the image's superlevel filtration has one component at every level. ``clip_infinite=None``
drops the essential bar instead, so ``i0`` counts finite bars only (TopologyLayer's current
features). The batch cost is the mean over the images.

:class:`PD0Features` gives the Figure-8d control's features ``E(1,0,2) − E(1,0,k)`` for several
``k``: the sum of the ``k − 2`` longest finite bars (in the clipped convention).
"""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Ge
from torch import Tensor, nn

from topoexp.config.markers import ArgumentError
from topoexp.topology.features import barcode_energy
from topoexp.topology.layers import LevelSetLayer2D

__all__ = ["PD0Features", "TopologyPrior"]

Triangulation = Literal["freudenthal", "grid", "delaunay"]


def _images(x: Tensor, size: tuple[int, int]) -> Tensor:
    """``(B, 1, H, W)``, ``(B, H, W)`` or ``(B, H·W)`` → ``(B, H·W)``."""
    width, height = size
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim == 3 and tuple(x.shape[1:]) == (height, width):
        return x.reshape(len(x), height * width)
    if x.ndim == 2 and x.shape[1] == height * width:
        return x
    raise ValueError(f"expected images (B, 1, {height}, {width}), got {tuple(x.shape)}")


class _SuperlevelPD0(nn.Module):
    def __init__(self, complex: Triangulation, image_size: list[int]) -> None:
        super().__init__()
        if complex not in ("freudenthal", "grid", "delaunay"):
            raise ArgumentError("complex", f"freudenthal, grid or delaunay, got {complex!r}")
        if len(image_size) != 2:
            raise ArgumentError("image_size", f"(width, height), got {image_size}")
        self.complex, self.image_size = complex, [int(s) for s in image_size]
        self.layer = LevelSetLayer2D(tuple(self.image_size), 0, sublevel=False, complex=complex)

    def diagram(self, images: Tensor) -> Tensor:
        """``(B, H·W, 2)`` superlevel H0 diagrams (birth ≥ death; the essential one −inf)."""
        return self.layer.barcodes(_images(images, tuple(self.image_size)))[0].diagram


class TopologyPrior(_SuperlevelPD0):
    """``E(p, q, i0; PD0)`` of each image's superlevel filtration, mean over the batch.

    Args:
        complex: triangulation of the pixel grid (``delaunay``: scipy's, as the original).
        i0: first bar summed, 1-based, bars by decreasing length (2: all but the longest).
        p, q: exponents of the bar length and of the bar mean.
        clip_infinite: death given to the essential bar (−1, the pixel minimum: it is then bar
            1); ``None`` leaves it out so ``i0`` counts the finite bars only.
        image_size: (width, height) of the images.
    """

    def __init__(
        self,
        complex: Triangulation = "delaunay",
        i0: Annotated[int, Ge(1)] = 2,
        p: float = 1.0,
        q: float = 0.0,
        clip_infinite: float | None = -1.0,
        image_size: list[int] = [28, 28],  # noqa: B006 (config default)
    ) -> None:
        super().__init__(complex, image_size)
        if i0 < 1:
            raise ArgumentError("i0", f"is 1-based, got {i0}")
        self.i0, self.p, self.q = int(i0), float(p), float(q)
        self.clip_infinite = None if clip_infinite is None else float(clip_infinite)

    def extra_repr(self) -> str:
        return (
            f"E({self.p:g}, {self.q:g}, {self.i0}; PD0), superlevel, {self.complex}, "
            f"essential death → {self.clip_infinite}"
        )

    def per_image(self, images: Tensor) -> Tensor:
        """``(B,)`` costs of the images."""
        infinite = "drop" if self.clip_infinite is None else self.clip_infinite
        return barcode_energy(self.diagram(images), False, self.p, self.q, self.i0, infinite)

    def forward(self, images: Tensor) -> Tensor:
        return self.per_image(images).mean()


class PD0Features(_SuperlevelPD0):
    """``(B, len(ks))``: ``E(1,0,2; PD0) − E(1,0,k; PD0)`` per ``k`` (essential death → −1),
    i.e. the sum of the ``k − 2`` longest finite H0 bars of each image's superlevel sets."""

    def __init__(
        self,
        ks: list[int] = [3, 4, 5, 11],  # noqa: B006 (config default)
        complex: Triangulation = "delaunay",
        clip_infinite: float = -1.0,
        image_size: list[int] = [28, 28],  # noqa: B006 (config default)
    ) -> None:
        super().__init__(complex, image_size)
        if not ks or min(ks) < 3:
            raise ArgumentError("ks", f"each k ≥ 3 (E(1,0,2) − E(1,0,k)), got {list(ks)}")
        self.ks, self.clip_infinite = [int(k) for k in ks], float(clip_infinite)

    def forward(self, images: Tensor) -> Tensor:
        import torch

        dgm = self.diagram(images)
        e2 = barcode_energy(dgm, False, 1.0, 0.0, 2, self.clip_infinite)
        return torch.stack(
            [e2 - barcode_energy(dgm, False, 1.0, 0.0, k, self.clip_infinite) for k in self.ks],
            dim=-1,
        )
