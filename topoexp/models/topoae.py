"""TopoAE / TopoPCA for library use: an autoencoder and TopoAE's signature term as one module.

In configs the same model is ``model=mlp|deep|linear loss=signature`` (the objective of
:mod:`topoexp.losses.objective`); this class builds exactly that objective from Python::

    model = TopologicallyRegularizedAE(MLPAutoencoder((101,)), lam=0.43)
    loss, parts = model.loss(x)
"""

from __future__ import annotations

from torch import Tensor, nn

from topoexp.losses.objective import Objective
from topoexp.losses.regularisers import DataNorm, TopologicalSignature
from topoexp.losses.signature import SignatureLoss
from topoexp.topology.distances import data_distances, pairwise_distances

__all__ = ["DataNorm", "TopologicallyRegularizedAE", "data_distances", "pairwise_distances"]


class TopologicallyRegularizedAE(Objective):
    """An autoencoder trained on ``reconstruction + lam · signature(D_X, D_Z)`` (spec §2.3).

    ``signature`` replaces the default :class:`SignatureLoss`; ``data_norm`` and ``encode_twice``
    are those of :class:`~topoexp.losses.regularisers.TopologicalSignature`.
    """

    def __init__(
        self,
        autoencoder: nn.Module,
        lam: float,
        signature: SignatureLoss | None = None,
        data_norm: DataNorm = "auto",
        encode_twice: bool = True,
    ) -> None:
        term = TopologicalSignature(weight=lam, data_norm=data_norm, encode_twice=encode_twice)
        if signature is not None:
            term.signature = signature
        super().__init__(autoencoder, {"signature": term})

    @property
    def autoencoder(self) -> nn.Module:
        return self.model

    @property
    def term(self) -> TopologicalSignature:
        return self.regularisers["signature"]  # type: ignore[return-value]

    @property
    def lam(self) -> float:
        return self.term.weight

    @property
    def latent_norm(self) -> nn.Parameter:
        return self.term.latent_norm

    def distances(self, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised ``(D_X, D_Z)`` of a batch and its latent codes."""
        return self.term.distances(x, z)
