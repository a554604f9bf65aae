"""Topological losses as ``nn.Module``s taking distance matrices of a batch."""

from topoexp.losses.signature import SignatureLoss

__all__ = ["SignatureLoss"]
