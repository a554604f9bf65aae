"""0-dimensional persistence of images (superlevel sets) for evaluation: diagrams, their
1-Wasserstein distances, and component counts.

Images have pixel values in [-1, 1]. Their superlevel filtration on a triangulated grid
(:class:`~topoexp.topology.layers.LevelSetLayer2D`) gives H0 bars ``(birth b, death d)``,
``b ≥ d``; the essential bar's death is clipped to ``clip`` (−1, the pixel minimum) as in the
generator prior (spec B.2), and zero-length bars are left out (they are on the diagonal).
Diagrams are returned as points ``(−b, −d)``: the sublevel diagram of ``−f``, birth < death, the
layout gudhi's distances expect; the distances do not depend on that choice.

- :func:`components_above`: the number of connected components of ``{x : f(x) > t}`` on the
  same triangulation, read from the bars: a bar counts when ``b > t ≥ d``.
- :func:`long_bars`: the number of finite bars longer than ``eps``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from topoexp.topology.layers import LevelSetLayer2D

__all__ = ["components_above", "long_bars", "pd0_bars", "pd0_diagrams", "wasserstein_matrix"]

_LAYERS: dict[str, LevelSetLayer2D] = {}


def _layer(complex: str) -> LevelSetLayer2D:
    if complex not in _LAYERS:
        _LAYERS[complex] = LevelSetLayer2D((28, 28), 0, sublevel=False, complex=complex)
    return _LAYERS[complex]


@torch.no_grad()
def pd0_bars(images: Tensor, complex: str = "delaunay", batch: int = 2048) -> np.ndarray:
    """``(N, 784, 2)`` superlevel H0 bars (birth, death) of 28 × 28 images, essential death −inf,
    zero-length bars included (one bar per pixel), float64."""
    x = images.detach().reshape(len(images), 784).to(torch.float64).cpu()
    layer = _layer(complex)
    out = [layer.barcodes(x[s : s + batch])[0].diagram.numpy() for s in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, 784, 2))


def pd0_diagrams(images: Tensor, complex: str = "delaunay", clip: float = -1.0) -> list[np.ndarray]:
    """One ``(k, 2)`` diagram per image: non-zero bars as points ``(−b, −d)`` (module docstring)."""
    bars = pd0_bars(images, complex)
    dgms = []
    for img in bars:
        b, d = img[:, 0], np.where(np.isinf(img[:, 1]), clip, img[:, 1])
        keep = b > d
        dgms.append(np.stack([-b[keep], -d[keep]], axis=1))
    return dgms


def components_above(bars: np.ndarray, threshold: float) -> np.ndarray:
    """``(N,)`` components of the superlevel sets ``{f > threshold}`` from ``(N, k, 2)`` bars."""
    b, d = bars[..., 0], bars[..., 1]
    return ((b > threshold) & (d <= threshold)).sum(axis=-1)


def long_bars(bars: np.ndarray, eps: float) -> np.ndarray:
    """``(N,)`` finite H0 bars longer than ``eps`` (the essential bar not counted)."""
    length = bars[..., 0] - bars[..., 1]
    return (np.isfinite(length) & (length > eps)).sum(axis=-1)


def wasserstein_matrix(
    a: list[np.ndarray], b: list[np.ndarray], internal_p: float = np.inf
) -> np.ndarray:
    """``(len(a), len(b))`` 1-Wasserstein distances between diagrams (exact, POT through
    ``gudhi.wasserstein``), ground metric the ``internal_p`` norm (∞: the usual one)."""
    from gudhi.wasserstein import wasserstein_distance

    out = np.empty((len(a), len(b)))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i, j] = wasserstein_distance(x, y, order=1.0, internal_p=internal_p)
    return out
