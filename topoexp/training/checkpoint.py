"""Training state that survives an interruption: model, optimiser, early stopping, RNG streams."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from topoexp.io import save_torch

LAST = "last.pt"
BEST = "best.pt"


@dataclass
class LoopState:
    """Everything the loop needs to continue exactly where it stopped."""

    epoch: int = 0  # number of completed epochs
    best_val: float = float("inf")
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    finished: bool = False


def rng_state(loader_generator: torch.Generator) -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "loader": loader_generator.get_state(),
    }


def restore_rng(state: dict[str, Any], loader_generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    loader_generator.set_state(state["loader"])


def save_last(
    directory: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: LoopState,
    loader_generator: torch.Generator,
) -> Path:
    """Write ``last.pt`` atomically after a completed epoch."""
    payload = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "loop": state.__dict__,
        "rng": rng_state(loader_generator),
    }
    return save_torch(directory / LAST, payload)


def load_last(
    directory: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loader_generator: torch.Generator,
) -> LoopState:
    """Restore model, optimiser and RNG streams from ``last.pt``; return the loop state."""
    device = next(model.parameters()).device
    payload = torch.load(directory / LAST, weights_only=False, map_location=device)
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    restore_rng(payload["rng"], loader_generator)
    return LoopState(**payload["loop"])


def save_best(directory: Path, model: torch.nn.Module) -> Path:
    return save_torch(directory / BEST, model.state_dict())


def load_best(directory: Path, model: torch.nn.Module) -> None:
    device = next(model.parameters()).device
    model.load_state_dict(torch.load(directory / BEST, weights_only=True, map_location=device))
