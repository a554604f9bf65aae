"""Barcode features: TopologyLayer's featurisation layers and the paper's E(p, q, i0; PD_k).

Every feature takes a layer's output ``(dgms, issublevel)`` and reads ``dgms[dim]`` of shape
``(..., k, 2)``; leading batch dimensions are kept. As in TopologyLayer (spec B.2), a bar runs
from ``start`` to ``end`` (``(birth, death)`` for sublevel, ``(death, birth)`` for superlevel
diagrams), its length is ``end - start`` and its mean ``(start + end) / 2``, and a bar whose
length is infinite or NaN (the essential bars) gets length 0 and mean 0, so it contributes nothing.

The paper's functional (its eq. 1) is

    E(p, q, i0; PD_k) = Σ_{i = i0}^{|I_k|} |d_i − b_i|^p ((d_i + b_i) / 2)^q,

bars ordered by decreasing length, i0 1-based. Whether the infinite bar is one of the indexed
bars changes what i0 means (spec B.2): TopologyLayer's current features index only finite bars
(``SumBarcodeLengths = E(1, 0, 1)``, ``PartialSumBarcodeLengths(skip=s) = E(1, 0, s + 1)``), while
the older cost behind the paper's Figure 3 first clipped the essential H0 bar at the pixel minimum
(−1), making it bar 1, so that its ``E(1, 0, 2; PD0)`` equals ``SumBarcodeLengths``.
:class:`BarcodeEnergy` offers both through ``infinite``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = [
    "BarcodeEnergy",
    "BarcodePolyFeature",
    "PartialSumBarcodeLengths",
    "SumBarcodeLengths",
    "TopKBarcodeLengths",
    "bar_lengths",
    "bar_lengths_means",
    "barcode_energy",
    "barcode_energy_grid",
]

Diagrams = tuple[tuple[Tensor, ...] | list[Tensor], bool]


def _check_dim(dim: int) -> int:
    if not isinstance(dim, int) or dim < 0:
        raise ValueError(f"dim must be a non-negative int, got {dim!r}")
    return dim


def _diagram(inputs: Diagrams, dim: int) -> tuple[Tensor, bool]:
    try:
        dgms, issublevel = inputs
    except (TypeError, ValueError) as err:
        raise ValueError("expected a layer's output (dgms, issublevel)") from err
    if dim >= len(dgms):
        raise ValueError(f"dim={dim} but the layer returned dimensions 0..{len(dgms) - 1}")
    dgm = dgms[dim]
    if dgm.ndim < 2 or dgm.shape[-1] != 2:
        raise ValueError(f"a diagram has shape (..., k, 2), got {tuple(dgm.shape)}")
    return dgm, bool(issublevel)


def bar_lengths_means(dgm: Tensor, issublevel: bool) -> tuple[Tensor, Tensor]:
    """Lengths and means of the bars of ``(..., k, 2)``; 0 and 0 for infinite or NaN bars."""
    birth, death = dgm[..., 0], dgm[..., 1]
    start, end = (birth, death) if issublevel else (death, birth)
    length = end - start
    mean = (end + start) / 2
    bad = ~torch.isfinite(length)
    zero = torch.zeros_like(length)
    return torch.where(bad, zero, length), torch.where(bad, zero, mean)


def bar_lengths(dgm: Tensor, issublevel: bool) -> Tensor:
    """Lengths of the bars of ``(..., k, 2)``; 0 for infinite or NaN bars."""
    length = dgm[..., 1] - dgm[..., 0]
    if not issublevel:
        length = -length
    return torch.where(torch.isfinite(length), length, torch.zeros((), dtype=length.dtype))


def _sorted_lengths(dgm: Tensor, issublevel: bool) -> Tensor:
    return torch.sort(bar_lengths(dgm, issublevel), dim=-1, descending=True).values


class SumBarcodeLengths(nn.Module):
    """Σ of the lengths of the finite bars of ``dgms[dim]`` (``E(1, 0, 1)`` over finite bars)."""

    def __init__(self, dim: int = 0) -> None:
        super().__init__()
        self.dim = _check_dim(dim)

    def forward(self, inputs: Diagrams) -> Tensor:
        dgm, sub = _diagram(inputs, self.dim)
        return bar_lengths(dgm, sub).sum(-1)


class TopKBarcodeLengths(nn.Module):
    """The ``k`` largest bar lengths in decreasing order, zero-padded: ``(..., k)``."""

    def __init__(self, dim: int, k: int) -> None:
        super().__init__()
        self.dim = _check_dim(dim)
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        self.k = k

    def forward(self, inputs: Diagrams) -> Tensor:
        dgm, sub = _diagram(inputs, self.dim)
        lengths = _sorted_lengths(dgm, sub)[..., : self.k]
        pad = self.k - lengths.shape[-1]
        return nn.functional.pad(lengths, (0, pad)) if pad > 0 else lengths


class PartialSumBarcodeLengths(nn.Module):
    """Σ of the bar lengths after skipping the ``skip`` longest (``E(1, 0, skip + 1)``)."""

    def __init__(self, dim: int, skip: int) -> None:
        super().__init__()
        self.dim = _check_dim(dim)
        if not isinstance(skip, int) or skip < 0:
            raise ValueError(f"skip must be a non-negative int, got {skip!r}")
        self.skip = skip

    def forward(self, inputs: Diagrams) -> Tensor:
        dgm, sub = _diagram(inputs, self.dim)
        return _sorted_lengths(dgm, sub)[..., self.skip :].sum(-1)


class BarcodePolyFeature(nn.Module):
    """Σ length^p · mean^q over the finite bars (``E(p, q, 1)``); with ``remove_zero`` (the
    default, as TopologyLayer) bars with birth == death are left out (they matter for p = 0)."""

    def __init__(self, dim: int, p: float, q: float, remove_zero: bool = True) -> None:
        super().__init__()
        self.dim = _check_dim(dim)
        self.p, self.q, self.remove_zero = float(p), float(q), bool(remove_zero)

    def forward(self, inputs: Diagrams) -> Tensor:
        dgm, sub = _diagram(inputs, self.dim)
        length, mean = bar_lengths_means(dgm, sub)
        keep = torch.isfinite(dgm[..., 1] - dgm[..., 0])
        if self.remove_zero:
            keep = keep & (dgm[..., 0] != dgm[..., 1])
        return _masked_terms(length, mean, keep, self.p, self.q).sum(-1)


def _masked_terms(length: Tensor, mean: Tensor, keep: Tensor, p: float, q: float) -> Tensor:
    """``length^p · mean^q`` where ``keep``, else 0; left-out bars are set to 1 before the powers
    so that a fractional power of 0 or of a negative mean cannot put NaN into the gradient."""
    one = torch.ones_like(length)
    terms = torch.where(keep, length, one).pow(p) * torch.where(keep, mean, one).pow(q)
    return torch.where(keep, terms, torch.zeros_like(terms))


def barcode_energy(
    dgm: Tensor,
    issublevel: bool,
    p: float = 1.0,
    q: float = 0.0,
    i0: int = 1,
    infinite: str | float = "drop",
    remove_zero: bool = True,
) -> Tensor:
    """The paper's ``E(p, q, i0; PD)`` of one ``(..., k, 2)`` diagram (module docstring).

    Args:
        p, q: exponents of the length and of the mean.
        i0: 1-based index of the first bar summed, bars ordered by decreasing length.
        infinite: ``"drop"`` leaves the essential bars out before ordering (TopologyLayer's
            features); a number ``c`` replaces their death by ``c`` so they are ordered with the
            rest (the older cost: ``c = -1``, the pixel minimum, for superlevel images).
        remove_zero: leave out bars with birth == death (not points of the diagram).
    """
    if not isinstance(i0, int) or i0 < 1:
        raise ValueError(f"i0 is 1-based, got {i0!r}")
    birth, death = dgm[..., 0], dgm[..., 1]
    inf = torch.isinf(death)
    if isinstance(infinite, str):
        if infinite != "drop":
            raise ValueError(f"infinite must be 'drop' or a number, got {infinite!r}")
        keep = ~inf
    else:
        death = torch.where(inf, torch.full_like(death, float(infinite)), death)
        keep = torch.ones_like(inf)
    keep = keep & torch.isfinite(birth)
    if remove_zero:
        keep = keep & (birth != death)
    length = (death - birth).abs()
    mean = (death + birth) / 2
    # order: kept bars by decreasing length first, dropped bars last
    sort_key = torch.where(keep, length.detach(), torch.full_like(length, -1.0))
    idx = torch.sort(sort_key, dim=-1, descending=True, stable=True).indices
    length, mean, keep = length.gather(-1, idx), mean.gather(-1, idx), keep.gather(-1, idx)
    pos = torch.arange(length.shape[-1], device=length.device)
    keep = keep & (pos >= i0 - 1)
    return _masked_terms(length, mean, keep, p, q).sum(-1)


class BarcodeEnergy(nn.Module):
    """The paper's ``E(p, q, i0; PD_dim)`` as a feature layer (see :func:`barcode_energy`)."""

    def __init__(
        self,
        dim: int,
        p: float = 1.0,
        q: float = 0.0,
        i0: int = 1,
        infinite: str | float = "drop",
        remove_zero: bool = True,
    ) -> None:
        super().__init__()
        self.dim = _check_dim(dim)
        if not isinstance(i0, int) or i0 < 1:
            raise ValueError(f"i0 is 1-based, got {i0!r}")
        if isinstance(infinite, str) and infinite != "drop":
            raise ValueError(f"infinite must be 'drop' or a number, got {infinite!r}")
        self.p, self.q, self.i0 = float(p), float(q), i0
        self.infinite, self.remove_zero = infinite, bool(remove_zero)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, p={self.p}, q={self.q}, i0={self.i0}, infinite={self.infinite!r}"

    def forward(self, inputs: Diagrams) -> Tensor:
        dgm, sub = _diagram(inputs, self.dim)
        return barcode_energy(dgm, sub, self.p, self.q, self.i0, self.infinite, self.remove_zero)


def barcode_energy_grid(
    dgm: Tensor, issublevel: bool, max_p: int = 4, max_q: int = 4, remove_zero: bool = True
) -> Tensor:
    """``E(p, q, 1; PD)`` for every ``p = 0..max_p`` and ``q = 0..max_q`` at once: ``(..., P, Q)``.

    All finite bars are summed (i0 = 1 needs no ordering), so the grid is one batched product
    ``L @ Mᵀ`` of the length powers ``L[p, i] = length_i^p`` and the mean powers
    ``M[q, i] = mean_i^q`` over the kept bars (finite, and with ``remove_zero`` birth ≠ death, as
    :class:`BarcodePolyFeature`). Powers are built by repeated products, so ``p = 0`` has a zero
    gradient instead of ``0 · 0⁻¹``. Entry ``[p, q]`` equals ``barcode_energy(dgm, issublevel, p,
    q, i0=1)``.
    """
    for name, value in (("max_p", max_p), ("max_q", max_q)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    length, mean = bar_lengths_means(dgm, issublevel)
    keep = torch.isfinite(dgm[..., 1] - dgm[..., 0])
    if remove_zero:
        keep = keep & (dgm[..., 0] != dgm[..., 1])
    keep = keep.to(length.dtype)
    length, mean = length * keep, mean * keep  # left-out bars: 0 (their rows of L are 0 too)
    len_pows, mean_pows = [keep], [torch.ones_like(mean)]
    for _ in range(max_p):
        len_pows.append(len_pows[-1] * length)
    for _ in range(max_q):
        mean_pows.append(mean_pows[-1] * mean)
    return torch.stack(len_pows, -2) @ torch.stack(mean_pows, -2).transpose(-1, -2)
