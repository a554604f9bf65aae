"""Optimisation problems: the parameters to optimise, their start, a data term and measures.

A problem is a component (``conf/dataset/problem/``): :class:`Problem` gives the initial
parameters, the data term of the objective (0 when the penalty alone drives the parameters) and
measures of a solution. The task (:mod:`topoexp.tasks.optimise`) adds the penalty and runs the
optimiser.

- :class:`PointCloud`: points in [0, 1]² (Figure 1) or sampled from a 3-D chair (Figure 2);
- :class:`MnistDigit`: a noisy MNIST digit as the function on the pixel grid (Figure 3);
- :class:`LinearRegression`: ``y = X β* + σ ε`` started at the minimum-norm least-squares
  solution; the data term is the mean squared error (Figures 5–7, the README's noisy circle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from annotated_types import Ge, Gt
from torch import Tensor

from topoexp.capabilities import PROBLEM
from topoexp.config.markers import ArgumentError
from topoexp.data.regression import (
    beta_star,
    min_norm_least_squares,
    prediction_mse,
    regression_data,
    ring_image,
)

__all__ = ["LinearRegression", "MnistDigit", "PointCloud", "Problem", "chair_points"]

#: β* kinds of :func:`topoexp.data.regression.beta_star`, and ``ring`` (an image)
BetaChoice = Literal["123", "101", "sinusoid", "sawtooth", "boxcar", "ring"]


class Problem:
    """Base: ``name``, :meth:`initial`, :meth:`data_loss`, :meth:`metrics`, :attr:`kind`."""

    kind: Literal["points", "image", "vector"] = "points"
    offers = frozenset({PROBLEM})

    def __init__(self, name: str) -> None:
        self.name = name

    def initial(self) -> Tensor:
        raise NotImplementedError

    def data_loss(self, theta: Tensor) -> Tensor:
        return theta.new_zeros(())

    def metrics(self, theta: Tensor) -> dict[str, float]:
        return {}

    def reference(self) -> Tensor | None:
        """The true parameters, when the problem has them (shown beside the solution)."""
        return None


def _box_points(rng: np.random.Generator, n: int, lo: list[float], hi: list[float]) -> np.ndarray:
    return rng.uniform(lo, hi, size=(n, 3))


def chair_points(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform in a chair made of boxes (seat, back, four legs), in [0, 1]³.

    A stand-in for the scanned chair of the paper's Figure 2, which is not published; each box
    gets points in proportion to its volume.
    """
    t = 0.06
    boxes = [
        ([0.0, 0.0, 0.45], [0.6, 0.6, 0.45 + t]),  # seat
        ([0.0, 0.6 - t, 0.45 + t], [0.6, 0.6, 1.0]),  # back
        *[([x, y, 0.0], [x + t, y + t, 0.45]) for x in (0.0, 0.6 - t) for y in (0.0, 0.6 - t)],
    ]
    vol = np.array([np.prod(np.subtract(hi, lo)) for lo, hi in boxes])
    counts = rng.multinomial(n, vol / vol.sum())
    pts = [_box_points(rng, c, lo, hi) for c, (lo, hi) in zip(counts, boxes, strict=True)]
    return np.concatenate(pts)


class PointCloud(Problem):
    """``n_points`` points: uniform in [0, 1]² (``square``, Figure 1: NumPy seed 0) or in a
    3-D chair (``chair``, Figure 2). The parameters are the coordinates; no data term."""

    kind = "points"

    def __init__(
        self,
        name: str = "points",
        shape: Literal["square", "chair"] = "square",
        n_points: Annotated[int, Ge(3)] = 100,
        data_seed: int = 0,
    ) -> None:
        super().__init__(name)
        if shape not in ("square", "chair"):
            raise ArgumentError("shape", f"must be 'square' or 'chair', got {shape!r}")
        if n_points < 3:
            raise ArgumentError("n_points", f"must be ≥ 3, got {n_points}")
        self.shape, self.n_points, self.data_seed = shape, n_points, data_seed

    def initial(self) -> Tensor:
        if self.shape == "square":
            np.random.seed(self.data_seed)  # the authors' alpha.py: np.random.seed(0)
            pts = np.random.rand(self.n_points, 2)
        else:
            pts = chair_points(self.n_points, np.random.default_rng(self.data_seed))
        return torch.from_numpy(pts).float()


class MnistDigit(Problem):
    """The ``index``-th test image of ``digit`` in MNIST, pixels in [0, 1], plus ``noise`` ×
    N(0, 1) per pixel (seeded by ``data_seed``). The parameters are the pixel values."""

    kind = "image"

    def __init__(
        self,
        root: str,
        name: str = "mnist_digit",
        digit: Annotated[int, Ge(0)] = 2,
        index: Annotated[int, Ge(0)] = 0,
        noise: Annotated[float, Ge(0)] = 0.1,
        data_seed: int = 0,
    ) -> None:
        super().__init__(name)
        if not 0 <= digit <= 9:
            raise ArgumentError("digit", f"must be 0..9, got {digit}")
        self.root, self.digit, self.index = Path(root), digit, index
        self.noise, self.data_seed = float(noise), data_seed

    def clean(self) -> Tensor:
        from torchvision.datasets import MNIST

        data = MNIST(self.root, train=False, download=False)
        rows = (data.targets == self.digit).nonzero().flatten()
        return data.data[rows[self.index]].double() / 255.0

    def initial(self) -> Tensor:
        clean = self.clean()
        g = torch.Generator().manual_seed(self.data_seed)
        noise = torch.randn(clean.shape, generator=g, dtype=clean.dtype)
        return (clean + self.noise * noise).float()


class LinearRegression(Problem):
    """Linear regression ``y = X β* + σ ε`` (spec B.4), started at min-norm least squares.

    Args:
        beta: ``β*``: a kind of :func:`topoexp.data.regression.beta_star` (``p`` coefficients)
            or ``ring`` (a ``size × size`` image, ``p = size²``; Figure 7, README example).
        n_samples: rows of ``X``; sigma: noise level (paper 0.05, the level-set code 0.1).
        data_seed: seeds β* (random kinds), X and ε.

    Measures: ``beta_error`` ``‖β̂ − β*‖²``, ``relative_error`` ``‖β̂ − β*‖² / ‖β*‖²``,
    ``prediction_mse`` on 10,000 fresh noise-free rows.
    """

    kind = "vector"

    def __init__(
        self,
        name: str = "regression",
        beta: BetaChoice = "123",
        p: Annotated[int, Ge(2)] = 100,
        size: Annotated[int, Ge(2)] = 50,
        n_samples: Annotated[int, Ge(1)] = 100,
        sigma: Annotated[float, Ge(0)] = 0.05,
        data_seed: int = 0,
        rcond: Annotated[float, Gt(0)] = 1e-4,
    ) -> None:
        super().__init__(name)
        if sigma < 0:
            raise ArgumentError("sigma", f"must be ≥ 0, got {sigma}")
        self.beta_kind, self.n_samples, self.sigma, self.rcond = beta, n_samples, sigma, rcond
        g = torch.Generator().manual_seed(data_seed)
        if beta == "ring":
            self.kind = "image"
            self.shape: tuple[int, ...] = (size, size)
            self.beta = ring_image(size)
        else:
            self.shape = (p,)
            self.beta = beta_star(beta, p, generator=g)
        X, y = regression_data(self.beta.flatten(), n_samples, sigma, generator=g)
        self.X, self.y = X.float(), y.float()
        self._test_seed = data_seed + 1

    def initial(self) -> Tensor:
        ols = min_norm_least_squares(self.X.double(), self.y.double(), self.rcond)
        return ols.reshape(self.shape).float()

    def data_loss(self, theta: Tensor) -> Tensor:
        return ((self.X @ theta.flatten() - self.y) ** 2).mean()

    def reference(self) -> Tensor:
        return self.beta.float()

    def metrics(self, theta: Tensor) -> dict[str, float]:
        beta_hat = theta.detach().double().flatten()
        beta = self.beta.flatten()
        err = float(((beta_hat - beta) ** 2).sum())
        g = torch.Generator().manual_seed(self._test_seed)
        return {
            "beta_error": err,
            "relative_error": err / float((beta**2).sum()),
            "prediction_mse": float(prediction_mse(beta_hat, beta, generator=g)),
        }
