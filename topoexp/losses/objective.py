"""The objective of a trained model: its own reconstruction term plus weighted regularisers.

    total = reconstruction(x) + Σ_r contribution_r(outputs)

The model computes :class:`ModelOutputs` for a batch (latents, reconstruction, its own term: the
MSE of TopoAE's autoencoders, COREL's ℓ1, the BCE of the generative AEs, the VAE's ELBO terms).
Each regulariser (``conf/loss/<name>.yaml``, the ``loss`` group, any number of them) reads what it
needs from those outputs and returns its weighted contribution and its logged parts. A regulariser
declares ``needs`` (capabilities of :mod:`topoexp.capabilities`); preflight checks them against
the model's ``offers`` before any data are built.

:class:`Objective` is what the trainer trains: ``loss(x) -> (total, parts)`` with the parts as
floats (one device→host transfer per step), ``parameters()`` of the model and the regularisers
(TopoAE's learnable latent scale is one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from topoexp.capabilities import ENCODER, TRAINABLE

__all__ = ["LatentHook", "ModelOutputs", "Objective", "Regulariser"]

#: Called by a model's ``outputs`` with ``(x, z)`` right after encoding, before decoding.
LatentHook = Callable[[Tensor, Tensor], None]


@dataclass
class ModelOutputs:
    """What a model exposes for one training batch.

    Attributes:
        x: the batch as the model reads it (its reconstruction target).
        z: the latent codes that were decoded, ``(B, d)`` (the VAE's sampled codes).
        x_hat: the reconstruction (``None`` for a regulariser that reads the latents only).
        reconstruction: the model's own objective term (a scalar with gradient; ``None`` as
            ``x_hat``).
        parts: the model's logged terms (scalars; tensors or floats).
        model: the model itself (regularisers may read its attributes, e.g. its branches).
    """

    x: Tensor
    z: Tensor
    x_hat: Tensor | None = None
    reconstruction: Tensor | None = None
    parts: dict[str, Any] = field(default_factory=dict)
    model: nn.Module | None = None

    def branches(self) -> Tensor:
        """The latents as ``(n_branches, B, branch_dim)``: the model's branches where it has them,
        else one branch holding the whole latent."""
        split = getattr(self.model, "branches", None)
        if callable(split):
            return split(self.z)
        return self.z.reshape(len(self.z), -1).unsqueeze(0)


class Regulariser(nn.Module):
    """A term added to a model's objective, computed from its :class:`ModelOutputs`.

    Subclasses set ``needs`` and implement :meth:`forward` returning ``(weighted contribution,
    parts)``. ``encoding`` may wrap the model's encoder pass (TopoAE's double batch-norm update).
    ``reads = "latents"`` computes the term right after encoding, before the model decodes (the
    original TopoAE code's order; with it the gradients' floating-point sums, and so the trained
    weights, equal the original's bit for bit); ``"outputs"`` after the reconstruction.
    ``prior`` names the latent prior a generative model samples when trained with this term
    (``"ball"`` for the homological regulariser), ``None`` when it implies none.
    """

    needs: ClassVar[frozenset[str]] = frozenset({TRAINABLE, ENCODER})
    prior: ClassVar[str | None] = None
    reads: ClassVar[str] = "outputs"

    def encoding(self, model: nn.Module) -> AbstractContextManager:
        """A context around the model's encoder pass (default: nothing)."""
        return nullcontext()

    def forward(self, outputs: ModelOutputs) -> tuple[Tensor, dict[str, Any]]:
        raise NotImplementedError


class Objective(nn.Module):
    """A model and its regularisers, trained as one module (see the module docstring).

    ``parts`` of :meth:`loss` are the model's, then each regulariser's, then ``loss.total``.
    """

    def __init__(self, model: nn.Module, regularisers: Mapping[str, Regulariser] | None = None):
        super().__init__()
        self.model = model
        self.regularisers = nn.ModuleDict(dict(regularisers or {}))
        if getattr(model, "prior", None) == "auto":  # the prior follows the regulariser
            wanted = [r.prior for r in self.regularisers.values() if r.prior]
            model.prior = wanted[0] if wanted else "gaussian"

    @contextmanager
    def _encoding(self) -> Iterator[None]:
        with ExitStack() as stack:
            for regulariser in self.regularisers.values():
                stack.enter_context(regulariser.encoding(self.model))
            yield

    def terms(self, x: Tensor) -> tuple[Tensor, dict[str, Any]]:
        """``(total, parts)`` with the parts as detached tensors or numbers."""
        done: dict[str, tuple[Tensor, dict[str, Any]]] = {}
        early = {k: r for k, r in self.regularisers.items() if r.reads == "latents"}

        def on_latents(x: Tensor, z: Tensor) -> None:
            for key, regulariser in early.items():
                done[key] = regulariser(ModelOutputs(x=x, z=z, model=self.model))

        outputs = self.model.outputs(
            x, encoding=self._encoding(), on_latents=on_latents if early else None
        )
        total = outputs.reconstruction
        parts = dict(outputs.parts)
        for key, regulariser in self.regularisers.items():
            contribution, more = done[key] if key in done else regulariser(outputs)
            total = total + contribution
            parts.update(more)
        parts["loss.total"] = total
        return total, parts

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        """The training loss of batch ``x`` and its logged parts as floats."""
        total, parts = self.terms(x)
        return total, _as_floats(parts, total.device)

    def forward(self, x: Tensor) -> Any:
        """The model's own forward (``(x_hat, z)`` for an autoencoder)."""
        return self.model(x)

    def encode(self, x: Tensor) -> Tensor:
        return self.model.encode(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.model.decode(z)

    @property
    def latent_dim(self) -> int:
        return self.model.latent_dim


def _as_floats(parts: Mapping[str, Any], device: torch.device) -> dict[str, float]:
    """Every part as a Python float, with one device→host transfer for the tensors."""
    names = [k for k, v in parts.items() if isinstance(v, Tensor)]
    values: dict[str, float] = {k: float(v) for k, v in parts.items() if not isinstance(v, Tensor)}
    if names:
        stacked = torch.stack(
            [parts[k].detach().reshape(()).to(device=device, dtype=torch.float64) for k in names]
        ).tolist()
        values |= dict(zip(names, stacked, strict=True))
    return {k: values[k] for k in parts}
