"""The papers' topological terms as regularisers of any model that offers what they need.

Each class here is a :class:`~topoexp.losses.objective.Regulariser`: built from one entry of the
``loss`` group (``loss=signature``, ``loss=[signature,connectivity]``, ...), it reads latents and
inputs from the model's :class:`~topoexp.losses.objective.ModelOutputs` and returns its weighted
contribution to the objective and its logged parts:

- :class:`TopologicalSignature`: TopoAE's ``λ · signature(D_X, D_Z)`` (spec §2.3);
- :class:`Connectivity`: COREL's ``λ · L_η`` over the latent branches (spec §A.2);
- :class:`Homological`: the unit-ball penalty and 0-dim death-time reward (spec C.2).

The losses themselves (``SignatureLoss``, ``ConnectivityLoss``, ``HomologicalLoss``) stay plain
tensor modules usable on their own; these adapters only say where their inputs come from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated, Any, ClassVar, Literal, get_args

import torch
from annotated_types import Ge, Gt
from torch import Tensor, nn

from topoexp.capabilities import ENCODER, TRAINABLE
from topoexp.config.markers import ArgumentError
from topoexp.losses.connectivity import BranchReduction, ConnectivityLoss
from topoexp.losses.homological import HomologicalLoss
from topoexp.losses.objective import ModelOutputs, Regulariser
from topoexp.losses.signature import MatchEdges, SignatureLoss
from topoexp.topology.distances import data_distances, pairwise_distances

__all__ = ["Connectivity", "DataNorm", "Homological", "LatentBarcode", "TopologicalSignature"]

DataNorm = Literal["auto", "batch_max", "image_max", "none"]

# Signature diagnostics -> the names the original code logs.
_DIAGNOSTIC_NAMES = {
    "matched_pairs_0d": "metrics.matched_pairs_0D",
    "distance1_2": "metrics.distance1-2",
    "distance2_1": "metrics.distance2-1",
}


def _weight(value: float) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ArgumentError("weight", f"must be a finite number ≥ 0, got {value!r}")
    return float(value)


class TopologicalSignature(Regulariser):
    """TopoAE's term ``weight · signature(D_X / s_X, D_Z / s_Z)`` of a batch and its latents.

    Args:
        weight: λ of the paper (``loss.lam`` before this term became a regulariser).
        match_edges, half, divide_by_batch, dims: the :class:`SignatureLoss` switches.
        data_norm: the divisor ``s_X`` of the input distances. ``"auto"`` is the original code: a
            4-D image batch ``(B, C, H, W)`` is divided by ``sqrt(2²·C·H·W)`` (the largest
            distance in [−1, 1]^D, 56 for MNIST), any other batch by its largest distance.
            ``"image_max"`` / ``"batch_max"`` force one rule; ``"none"`` keeps raw distances.
        encode_twice: ``True`` reproduces the original QUIRK of encoding each batch twice. Both
            passes see the same batch and, in training mode, normalise with batch statistics, so
            outputs and gradients equal one pass'; the lasting effect, a second update of the
            encoder's batch-norm running statistics, is applied directly
            (:func:`~topoexp.models.batchnorm.repeat_batchnorm_updates`).

    ``latent_norm`` (``s_Z``) is a learnable scalar initialised to 1, optimised with the model.
    The term is computed right after encoding, as in the original code (``reads``).
    """

    reads: ClassVar[str] = "latents"

    def __init__(
        self,
        weight: Annotated[float, Ge(0)] = 1.0,
        match_edges: MatchEdges = "symmetric",
        half: bool = False,
        divide_by_batch: bool = True,
        dims: Sequence[Literal[0, 1]] = (0,),
        data_norm: DataNorm = "auto",
        encode_twice: bool = True,
    ) -> None:
        super().__init__()
        if data_norm not in get_args(DataNorm):
            raise ArgumentError(
                "data_norm", f"must be one of {get_args(DataNorm)}, got {data_norm!r}"
            )
        self.weight = _weight(weight)
        self.signature = SignatureLoss(match_edges, half, divide_by_batch, dims)
        self.data_norm: DataNorm = data_norm
        self.encode_twice = bool(encode_twice)
        self.latent_norm = nn.Parameter(torch.tensor(1.0))

    def encoding(self, model: nn.Module) -> AbstractContextManager:
        if not self.encode_twice:
            return nullcontext()
        from topoexp.models.batchnorm import repeat_batchnorm_updates

        return repeat_batchnorm_updates(getattr(model, "encoder", model))

    def data_scale(self, x: Tensor, d_x: Tensor) -> Tensor | float:
        """The divisor applied to the input distance matrix ``d_x`` of batch ``x``."""
        mode = self.data_norm
        if mode == "auto":
            mode = "image_max" if x.dim() == 4 else "batch_max"
        if mode == "image_max":
            return math.sqrt(4.0 * math.prod(x.shape[1:]))
        if mode == "batch_max":
            # Guard only the degenerate all-identical batch (0/0); otherwise exactly max(D_X).
            return d_x.max().clamp_min(torch.finfo(d_x.dtype).tiny)
        return 1.0

    def distances(self, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised ``(D_X, D_Z)`` of a batch and its latent codes."""
        d_x = data_distances(x.flatten(1))
        d_x = d_x / self.data_scale(x, d_x)
        d_z = pairwise_distances(z.flatten(1)) / self.latent_norm
        return d_x, d_z

    def forward(self, outputs: ModelOutputs) -> tuple[Tensor, dict[str, Any]]:
        d_x, d_z = self.distances(outputs.x, outputs.z)
        topo, diagnostics = self.signature.terms(d_x, d_z)
        parts: dict[str, Any] = {"loss.topo_error": topo}
        for key, value in diagnostics.items():
            parts[_DIAGNOSTIC_NAMES.get(key, f"metrics.{key}")] = value
        return self.weight * topo, parts

    def extra_repr(self) -> str:
        return (
            f"weight={self.weight}, data_norm={self.data_norm!r}, encode_twice={self.encode_twice}"
        )


def death_time_stats(deaths: Tensor) -> Tensor:
    """``(3, n_branches)`` min / mean / max of the ``(n_branches, B − 1)`` death times."""
    if deaths.shape[-1] == 0:
        return deaths.new_full((3, deaths.shape[0]), float("nan"))
    return torch.stack([deaths.amin(-1), deaths.mean(-1), deaths.amax(-1)])


class Connectivity(Regulariser):
    """COREL's term ``weight · L_η`` over the branches of a latent batch (spec §A.2–A.4).

    On a model with branched latents (COREL's autoencoder) every branch is one point cloud; on any
    other encoder the whole latent is one branch. ``weight=0`` trains without the term and still
    logs the death times (without gradient), as COREL's λ = 0 backbones.

    Parts: ``loss.connectivity`` (unweighted), ``death_time.{min,mean,max}`` over all branches and
    ``death_time.{min,mean,max}.b<k>`` per branch (``k`` zero-padded to two digits), over the
    ``B − 1`` MST edges of the batch.
    """

    def __init__(
        self,
        weight: Annotated[float, Ge(0)] = 20.0,
        eta: Annotated[float, Gt(0)] = 2.0,
        branch_reduction: BranchReduction = "mean",
        p: Annotated[float, Ge(1)] = 1.0,
        drop_zero_deaths: bool = True,
    ) -> None:
        super().__init__()
        self.weight = _weight(weight)
        self.connectivity = ConnectivityLoss(eta, branch_reduction, p, drop_zero_deaths)

    def forward(self, outputs: ModelOutputs) -> tuple[Tensor, dict[str, Any]]:
        branches = outputs.branches()
        if self.weight > 0:
            topo, deaths = self.connectivity(branches)
            contribution = self.weight * topo
        else:
            with torch.no_grad():
                topo, deaths = self.connectivity(branches.detach())
            contribution = topo.new_zeros(())
        stats = death_time_stats(deaths.detach())
        parts: dict[str, Any] = {"loss.connectivity": topo.detach()}
        overall = (stats[0].min(), stats[1].mean(), stats[2].max())
        for k, stat in enumerate(("min", "mean", "max")):
            parts[f"death_time.{stat}"] = overall[k]
        for k, stat in enumerate(("min", "mean", "max")):
            for b in range(stats.shape[1]):
                parts[f"death_time.{stat}.b{b:02d}"] = stats[k, b]
        return contribution, parts

    def extra_repr(self) -> str:
        return f"weight={self.weight}"


class Homological(Regulariser):
    """The homological regulariser ``h(z)`` of a latent batch (spec C.2): ``ball_coef`` · the
    unit-ball penalty − ``death_coef`` · Σ the finite 0-dim death times below ``cutoff``.

    Args:
        weight: λ, the original code's one coefficient (5e-3) for both terms.
        ball_coef, death_coef: separate coefficients; ``None`` uses ``weight``. ``death_coef=0``
            is the paper's disk-penalty-only ablation (``loss=ball``; no persistence computed).
        ball_norm: ``squared`` max(‖z‖² − 1, 0) as the code, ``norm`` max(‖z‖ − 1, 0) as the paper.
        cutoff: Rips ``max_edge_length`` (0.5 in the code); ``None`` rewards every MST edge.

    A generative model trained with it samples the unit ball (its ``prior: auto``). Parts:
    ``loss.homological`` (weighted), ``ball_penalty``, ``death_sum``, ``n_deaths``.
    """

    prior: ClassVar[str | None] = "ball"
    needs: ClassVar[frozenset[str]] = frozenset({TRAINABLE, ENCODER})

    def __init__(
        self,
        weight: Annotated[float, Ge(0)] = 5e-3,
        ball_coef: Annotated[float, Ge(0)] | None = None,
        death_coef: Annotated[float, Ge(0)] | None = None,
        ball_norm: Literal["squared", "norm"] = "squared",
        cutoff: Annotated[float, Gt(0)] | None = 0.5,
    ) -> None:
        super().__init__()
        self.homological = HomologicalLoss(weight, ball_coef, death_coef, ball_norm, cutoff)

    def forward(self, outputs: ModelOutputs) -> tuple[Tensor, dict[str, Any]]:
        h, terms = self.homological(outputs.z.reshape(len(outputs.z), -1))
        return h, {"loss.homological": h.detach(), **terms}


class LatentBarcode(Regulariser):
    """The topology layer's barcode penalty on each latent batch:
    ``weight · Σ_t w_t · E(p_t, q_t, i0_t; PD_{dim_t})`` of ``layer``'s diagrams of the batch's
    latent point cloud (the paper's eq. 1 as a regulariser, e.g. to increase or decrease the
    latents' H0/H1 features).

    Args:
        layer: a point-cloud persistence layer (``RipsLayer``, ``AlphaLayer``; ``loss.latent_barcode
            .layer``).
        terms: energy terms ``{dim, p=1, q=0, i0=1, weight=1, infinite='drop'}`` as
            :class:`~topoexp.optimise.penalties.BarcodePenalty`'s; a negative weight increases
            the energy.
        weight: overall weight.

    Parts: ``loss.latent_barcode`` (weighted).
    """

    def __init__(
        self,
        layer: nn.Module,
        terms: list[dict[str, Any]],
        weight: Annotated[float, Ge(0)] = 1.0,
    ) -> None:
        super().__init__()
        from topoexp.optimise.penalties import BarcodePenalty

        self.penalty = BarcodePenalty(layer, terms, lam=_weight(weight))

    def forward(self, outputs: ModelOutputs) -> tuple[Tensor, dict[str, Any]]:
        value = self.penalty(outputs.z.reshape(len(outputs.z), -1))
        return value, {"loss.latent_barcode": value.detach()}
