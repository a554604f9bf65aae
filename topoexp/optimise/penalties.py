"""Penalties on optimised parameters: the paper's barcode energies and the classical norms.

A penalty maps parameters ``θ`` (points ``(n, d)``, an image ``(h, w)``, coefficients ``(p,)``)
to a scalar; with ``batched=True`` the leading dimension indexes independent problems and the
result is one value per problem (summing them gives every problem its own gradient).

- :class:`BarcodePenalty`: ``lam · Σ_t w_t · E(p_t, q_t, i0_t; PD_{dim_t})`` of one persistence
  layer (``AlphaLayer``, ``RipsLayer``, ``LevelSetLayer1D``/``2D``), the paper's eq. (1) with
  :func:`topoexp.topology.barcode_energy`. A 1-D coefficient vector given to a point-cloud layer
  is read as ``p`` points on the line (the paper's weak-alpha penalty on the values of β).
- :class:`NormPenalty`: ``lam · ‖β‖₁``, ``‖β‖₂`` (not squared), TV ``‖Δβ‖₁`` and the smooth TV
  ``‖Δβ‖₂`` (not squared), as in the authors' regression code (spec B.4).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import torch
from annotated_types import Ge
from torch import Tensor, nn

from topoexp.capabilities import PENALTY
from topoexp.config.markers import ArgumentError
from topoexp.topology import AlphaLayer, RipsLayer, barcode_energy
from topoexp.topology.alpha import weak_alpha_barcode_1d

__all__ = ["BarcodePenalty", "NormKind", "NormPenalty"]

NormKind = Literal["l1", "l2", "tv", "smooth_tv"]
_TERM_KEYS = {"dim", "p", "q", "i0", "weight", "infinite"}


def _check_terms(terms: Any) -> list[dict[str, Any]]:
    if not isinstance(terms, list | tuple) or not terms:
        raise ArgumentError("terms", f"a non-empty list of energy terms, got {terms!r}")
    out = []
    for k, term in enumerate(terms):
        if not isinstance(term, dict) or not set(term) <= _TERM_KEYS or "dim" not in term:
            raise ArgumentError(
                "terms", f"term {k}: a mapping with 'dim' and keys in {sorted(_TERM_KEYS)}"
            )
        t = {"p": 1.0, "q": 0.0, "i0": 1, "weight": 1.0, "infinite": "drop", **term}
        if not isinstance(t["dim"], int) or t["dim"] < 0:
            raise ArgumentError("terms", f"term {k}: dim must be an int ≥ 0, got {t['dim']!r}")
        if not isinstance(t["i0"], int) or t["i0"] < 1:
            raise ArgumentError("terms", f"term {k}: i0 is 1-based, got {t['i0']!r}")
        if isinstance(t["infinite"], str) and t["infinite"] != "drop":
            raise ArgumentError("terms", f"term {k}: infinite is 'drop' or a number")
        out.append(t)
    return out


class BarcodePenalty(nn.Module):
    """``lam · Σ_t weight_t · E(p_t, q_t, i0_t; PD_{dim_t})`` of ``layer``'s diagrams.

    Args:
        layer: a persistence layer of :mod:`topoexp.topology` (built from ``loss.barcode.layer``).
        terms: energy terms, each ``{dim, p=1, q=0, i0=1, weight=1, infinite='drop'}``; bars
            ordered by decreasing length, ``i0`` 1-based over the finite bars (``infinite:
            'drop'``, TopologyLayer's features) or over all bars with the essential death
            replaced by the given number. A negative weight increases the energy.
        lam: overall weight λ.
    """

    offers = frozenset({PENALTY})

    def __init__(
        self,
        layer: nn.Module,
        terms: list[dict[str, Any]],
        lam: Annotated[float, Ge(0)] = 1.0,
    ) -> None:
        super().__init__()
        if not isinstance(layer, nn.Module):
            raise ArgumentError("layer", f"a persistence layer, got {type(layer).__name__}")
        if lam < 0:
            raise ArgumentError("lam", f"λ must be ≥ 0, got {lam}")
        self.terms = list(terms)  # as configured; with the defaults filled in: self.full_terms
        self.full_terms = _check_terms(terms)
        maxdim = getattr(layer, "maxdim", 0)
        for t in self.full_terms:
            if t["dim"] > maxdim:
                raise ArgumentError("terms", f"dim {t['dim']} > the layer's maxdim {maxdim}")
        self.layer = layer
        self.lam = float(lam)

    def extra_repr(self) -> str:
        return f"lam={self.lam}, terms={self.full_terms}"

    def _point_cloud_layer(self) -> bool:
        return isinstance(self.layer, AlphaLayer | RipsLayer)

    def diagrams(self, theta: Tensor, batched: bool = False) -> tuple[tuple[Tensor, ...], bool]:
        """The layer's ``(dgms, issublevel)`` for ``θ`` (a batch: one more leading dimension)."""
        if not self._point_cloud_layer():
            return self.layer(theta)
        if theta.ndim == 1 + batched:  # values on the line
            if isinstance(self.layer, AlphaLayer) and self.layer.maxdim == 0:
                return (weak_alpha_barcode_1d(theta).diagram,), True
            theta = theta.unsqueeze(-1)
        if not batched:
            return self.layer(theta)
        outs = [self.layer(item)[0] for item in theta]
        return tuple(torch.stack(d) for d in zip(*outs, strict=True)), True

    def energies(self, theta: Tensor, batched: bool = False) -> list[Tensor]:
        """Each term's unweighted energy (``(B,)`` when batched)."""
        dgms, sub = self.diagrams(theta, batched)
        return [
            barcode_energy(dgms[t["dim"]], sub, t["p"], t["q"], t["i0"], t["infinite"])
            for t in self.full_terms
        ]

    def forward(self, theta: Tensor, batched: bool = False) -> Tensor:
        energies = self.energies(theta, batched)
        total = sum(t["weight"] * e for t, e in zip(self.full_terms, energies, strict=True))
        return self.lam * total


class NormPenalty(nn.Module):
    """``lam ·`` one of ``‖β‖₁`` (l1), ``‖β‖₂`` (l2), ``‖Δβ‖₁`` (tv), ``‖Δβ‖₂`` (smooth_tv)."""

    offers = frozenset({PENALTY})

    def __init__(self, kind: NormKind = "l1", lam: Annotated[float, Ge(0)] = 1.0) -> None:
        super().__init__()
        if kind not in get_args(NormKind):
            raise ArgumentError("kind", f"must be one of {get_args(NormKind)}, got {kind!r}")
        if lam < 0:
            raise ArgumentError("lam", f"λ must be ≥ 0, got {lam}")
        self.kind, self.lam = kind, float(lam)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, lam={self.lam}"

    def forward(self, theta: Tensor, batched: bool = False) -> Tensor:
        x = theta.flatten(1) if batched else theta.flatten()
        if self.kind in ("tv", "smooth_tv"):
            x = x.diff(dim=-1)
        order = 1 if self.kind in ("l1", "tv") else 2
        return self.lam * torch.linalg.vector_norm(x, ord=order, dim=-1)
