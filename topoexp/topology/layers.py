"""Persistence layers with TopologyLayer's names and outputs (spec B.1).

Each layer's ``forward`` returns ``(dgms, issublevel)``: ``dgms`` a tuple with one ``(..., k, 2)``
tensor of (birth, death) rows per homology dimension ``0..maxdim``, every bar included (zero-length
ones too, so ``k`` is fixed by the complex), essential bars with death ``+inf`` (sublevel) or
``-inf`` (superlevel). ``barcodes(x)`` returns the same bars as :class:`Barcode` values with their
critical cells. Layers keep no state between calls, so several forwards may share one backward.

Differences from TopologyLayer: diagrams have the input's dtype (TopologyLayer: float32), the
level-set layers accept a batch of inputs (leading dimensions), and ``alg`` is accepted for
compatibility but does not change the result (the persistence pairing of a strict filtration
order is unique; ``'hom'``, ``'hom2'`` and ``'cohom'`` only differed in speed).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from topoexp.topology.alpha import weak_alpha_barcodes
from topoexp.topology.barcode import Barcode, diagrams
from topoexp.topology.complexes import (
    GRID_COMPLEXES,
    SimplicialComplex,
    grid_complex,
    path_complex,
)
from topoexp.topology.levelset import LowerStarComplex, levelset_barcodes
from topoexp.topology.rips import rips_barcodes

__all__ = ["AlphaLayer", "LevelSetLayer", "LevelSetLayer1D", "LevelSetLayer2D", "RipsLayer"]

ALGORITHMS = ("hom", "hom2", "cohom")

Output = tuple[tuple[Tensor, ...], bool]


def _check(maxdim: int, alg: str) -> None:
    if not isinstance(maxdim, int) or isinstance(maxdim, bool) or maxdim < 0:
        raise ValueError(f"maxdim must be a non-negative int, got {maxdim!r}")
    if alg not in ALGORITHMS:
        raise ValueError(f"alg must be one of {ALGORITHMS}, got {alg!r}")


class _LevelSetBase(nn.Module):
    def __init__(self, cx: LowerStarComplex, maxdim: int, sublevel: bool, alg: str) -> None:
        super().__init__()
        _check(maxdim, alg)
        self.complex = cx
        self.maxdim, self.sublevel, self.alg = maxdim, bool(sublevel), alg

    def _flat(self, f: Tensor) -> Tensor:
        return f

    def barcodes(self, f: Tensor) -> list[Barcode]:
        return levelset_barcodes(self._flat(f), self.complex, self.maxdim, self.sublevel)

    def forward(self, f: Tensor) -> Output:
        return diagrams(self.barcodes(f)), self.sublevel


class LevelSetLayer(_LevelSetBase):
    """Lower-star persistence on a fixed complex; input ``(..., n_vertices)`` vertex values.

    ``planar=True`` declares the complex a triangulated disc in the plane, so that dimension 1
    uses the fast dual union-find; otherwise dimensions >= 1 use gudhi.
    """

    def __init__(
        self,
        complex: SimplicialComplex,
        maxdim: int = 1,
        sublevel: bool = True,
        alg: str = "hom",
        planar: bool = False,
    ) -> None:
        if not isinstance(complex, SimplicialComplex):
            raise ValueError(f"complex must be a SimplicialComplex, got {type(complex).__name__}")
        super().__init__(LowerStarComplex(complex, planar=planar), maxdim, sublevel, alg)


class LevelSetLayer1D(_LevelSetBase):
    """Sublevel (or superlevel) persistence of a function on a path of ``size`` vertices;
    dimension 0 only. Input ``(..., size)``."""

    def __init__(self, size: int, sublevel: bool = True, alg: str = "hom") -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        super().__init__(LowerStarComplex(path_complex(size)), 0, sublevel, alg)
        self.size = size


class LevelSetLayer2D(_LevelSetBase):
    """Level-set persistence of images on a triangulated ``size = (width, height)`` grid.

    Input: one image of shape ``(height, width)`` or ``(width * height,)`` (row-major, vertex
    ``i * width + j``), or a batch ``(..., height, width)`` / ``(..., width * height)``; the
    diagrams then carry the same leading dimensions. ``complex``: ``"freudenthal"`` (default),
    ``"grid"`` or ``"delaunay"`` (see :mod:`topoexp.topology.complexes`).
    """

    def __init__(
        self,
        size: Sequence[int],
        maxdim: int = 1,
        sublevel: bool = True,
        complex: str = "freudenthal",
        alg: str = "hom",
    ) -> None:
        if len(tuple(size)) != 2 or any(not isinstance(s, int) or s < 1 for s in size):
            raise ValueError(f"size must be (width, height) positive ints, got {size!r}")
        if complex not in GRID_COMPLEXES:
            raise ValueError(f"complex must be one of {GRID_COMPLEXES}, got {complex!r}")
        width, height = size
        if complex == "grid":
            if maxdim > 1:
                raise ValueError("complex='grid' supports maxdim <= 1")
            cx = LowerStarComplex(grid_complex(width, height, complex), grid_shape=(width, height))
        else:
            cx = LowerStarComplex(grid_complex(width, height, complex), planar=True)
        super().__init__(cx, maxdim, sublevel, alg)
        self.size = (width, height)
        self.kind = complex

    def _flat(self, f: Tensor) -> Tensor:
        width, height = self.size
        if f.ndim >= 2 and tuple(f.shape[-2:]) == (height, width):
            return f.reshape(*f.shape[:-2], width * height)
        if f.ndim >= 1 and f.shape[-1] == width * height:
            return f
        raise ValueError(
            f"expected images of shape (..., {height}, {width}) or (..., {width * height}) for "
            f"size=(width, height)={self.size}, got {tuple(f.shape)}"
        )


class RipsLayer(nn.Module):
    """Rips persistence of ``n`` points ``(n, d)`` (or of an ``(n, n)`` distance matrix with
    ``distance_matrix=True``), dimensions ``0..maxdim``; sublevel."""

    def __init__(
        self, n: int | None = None, maxdim: int = 1, alg: str = "hom", distance_matrix: bool = False
    ) -> None:
        super().__init__()
        _check(maxdim, alg)
        if n is not None and (not isinstance(n, int) or n < 1):
            raise ValueError(f"n must be a positive int or None, got {n!r}")
        self.n, self.maxdim, self.alg = n, maxdim, alg
        self.distance_matrix = bool(distance_matrix)

    def barcodes(self, x: Tensor) -> list[Barcode]:
        if self.n is not None and x.ndim >= 1 and x.shape[0] != self.n:
            raise ValueError(f"RipsLayer(n={self.n}) got {x.shape[0]} points")
        return rips_barcodes(x, self.maxdim, self.distance_matrix)

    def forward(self, x: Tensor) -> Output:
        return diagrams(self.barcodes(x)), True


class AlphaLayer(nn.Module):
    """Weak alpha persistence (flag filtration on the Delaunay triangulation) of ``(n, d)`` points,
    rebuilt at each call; ``(n, 1)`` points use the path through the sorted values."""

    def __init__(self, maxdim: int = 0, alg: str = "hom") -> None:
        super().__init__()
        _check(maxdim, alg)
        self.maxdim, self.alg = maxdim, alg

    def barcodes(self, x: Tensor) -> list[Barcode]:
        return weak_alpha_barcodes(x, self.maxdim)

    def forward(self, x: Tensor) -> Output:
        return diagrams(self.barcodes(x)), True
