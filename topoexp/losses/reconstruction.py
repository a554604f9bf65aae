"""The plain objective: an autoencoder trained on its own reconstruction loss (no regulariser)."""

from __future__ import annotations

from typing import Annotated, Any

from topoexp.config.markers import BUILD_ARG

__all__ = ["reconstruction_only"]


def reconstruction_only(autoencoder: Annotated[Any, BUILD_ARG]) -> Any:
    """Return ``autoencoder`` unchanged: it trains on its own ``loss`` (``loss=none``)."""
    return autoencoder
