"""Backbones of the one-class task: in-memory image tensors, checkpoints and encoding.

A backbone is trained once and evaluated on any data set, so it is found by a path: a run
directory of an earlier run (its ``checkpoints/last.pt``, the weights after the last epoch, or
``checkpoints/best.pt``) or a checkpoint file (a ``last.pt`` payload or a plain state dict).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

__all__ = ["backbone_checkpoint", "encode", "load_backbone", "materialise", "subset_of"]


def materialise(dataset: Dataset, batch_size: int = 1000) -> TensorDataset:
    """The ``(x, y)`` pairs of ``dataset`` as one float32 image tensor and int64 labels.

    The transform (e.g. a resize) then runs once per image instead of once per epoch and per
    evaluation.
    """
    xs, ys = [], []
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        xs.append(x.to(torch.float32))
        ys.append(torch.as_tensor(y, dtype=torch.int64))
    return TensorDataset(torch.cat(xs), torch.cat(ys))


def subset_of(materialised: TensorDataset, subset: Dataset) -> Dataset:
    """``subset`` (a ``Subset`` of the data set ``materialised`` was made from) on the tensors."""
    if isinstance(subset, Subset):
        return Subset(materialised, list(subset.indices))
    return materialised


def backbone_checkpoint(path: str | Path) -> Path:
    """The checkpoint file of a run directory or checkpoint path; names what is missing."""
    path = Path(path).expanduser()
    if path.is_dir():
        for name in ("checkpoints/last.pt", "checkpoints/best.pt", "last.pt", "best.pt"):
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(
            f"no backbone checkpoint in {path}: expected checkpoints/last.pt or "
            "checkpoints/best.pt of a finished training run"
        )
    if not path.is_file():
        raise FileNotFoundError(f"backbone {path} does not exist (a run directory or a .pt file)")
    return path


def load_backbone(model: nn.Module, path: str | Path) -> Path:
    """Load the weights at ``path`` (:func:`backbone_checkpoint`) into ``model``; return it."""
    file = backbone_checkpoint(path)
    payload = torch.load(file, map_location="cpu", weights_only=False)
    state = payload["model"] if isinstance(payload, dict) and "model" in payload else payload
    prefix = "model."  # a trained objective's state: the model's weights are under ``model.``
    if any(k.startswith(prefix) for k in state):
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise RuntimeError(
            f"the backbone at {file} does not fit the configured model (check model.n_branches, "
            f"model.branch_dim and the data against the training run): {error}"
        ) from None
    return file


@torch.no_grad()
def encode(model: Any, x: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """Latents of the samples ``x``, ``(N, latent_dim)`` float32: a torch encoder in eval mode,
    or a fitted estimator's ``transform`` of the flattened samples."""
    if not isinstance(model, nn.Module):
        latents = model.transform(x.flatten(1).numpy())
        return np.asarray(latents, dtype=np.float32)
    model.eval()
    device = next(model.parameters()).device
    out = [
        model.encode(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out).reshape(len(x), -1).numpy().astype(np.float32, copy=False)
