"""One checkpoint format for every loop: modules, optimisers, schedulers, batch order, RNG, state.

``last.pt`` holds ``modules`` and ``optimizers`` (by name), ``schedulers``, ``batches`` (the
state of the batch source), ``generators`` (the run's own random streams), ``rng`` (torch,
numpy, python) and ``loop`` (:class:`LoopState`). A single-model run also exposes its weights
and optimiser as ``model`` and ``optimizer`` (the same tensors, stored once). ``best.pt`` is the
best model's plain ``state_dict``. Checkpoints of the earlier two formats are read too.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from topoexp.io import save_torch

__all__ = [
    "BEST",
    "FORMAT",
    "LAST",
    "LoopState",
    "load_best",
    "load_checkpoint",
    "restore",
    "save_best",
    "save_checkpoint",
]

LAST = "last.pt"
BEST = "best.pt"
FORMAT = 1


@dataclass
class LoopState:
    """Everything the loop needs to continue exactly where it stopped."""

    epoch: int = 0  # completed epochs
    iteration: int = 0  # completed optimiser steps (of every epoch)
    best_val: float = float("inf")
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    finished: bool = False


def _rng() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def save_checkpoint(
    path: Path,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    state: LoopState,
    *,
    schedulers: Mapping[str, Any] | None = None,
    batches: dict[str, Any] | None = None,
    generators: Mapping[str, torch.Generator] | None = None,
) -> Path:
    """Write ``path`` atomically (see the module docstring for its keys)."""
    payload: dict[str, Any] = {
        "format": FORMAT,
        "modules": {k: m.state_dict() for k, m in modules.items()},
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "schedulers": {k: s.state_dict() for k, s in (schedulers or {}).items()},
        "batches": batches,
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
        "rng": _rng(),
        "loop": dict(state.__dict__),
    }
    if set(modules) == {"model"}:
        payload["model"] = payload["modules"]["model"]
        if "model" in payload["optimizers"]:
            payload["optimizer"] = payload["optimizers"]["model"]
    return save_torch(path, payload)


def _upgrade(payload: dict[str, Any]) -> dict[str, Any]:
    """The earlier formats in today's keys: the epoch loop's ``model``/``optimizer``/``rng.loader``
    and the GAN loop's ``sampler``."""
    if payload.get("format") == FORMAT:
        return payload
    out = dict(payload)
    if "modules" not in out:  # the epoch loop's format
        out["modules"] = {"model": out["model"]}
        out["optimizers"] = {"model": out["optimizer"]}
        rng = dict(out["rng"])
        out["generators"] = {"batches": rng.pop("loader")}
        out["rng"] = rng
        out["batches"] = None
    else:  # the GAN loop's format
        out["batches"] = out.pop("sampler", None)
    out.setdefault("schedulers", {})
    out.setdefault("generators", {})
    return out


def load_checkpoint(path: Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The payload of a ``last.pt`` (any format), in today's keys."""
    return _upgrade(torch.load(path, weights_only=False, map_location=device))


def restore(
    payload: dict[str, Any],
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    *,
    schedulers: Mapping[str, Any] | None = None,
    generators: Mapping[str, torch.Generator] | None = None,
) -> LoopState:
    """Load every named part of ``payload`` into the live objects; return the loop state."""
    for k, m in modules.items():
        m.load_state_dict(payload["modules"][k])
    for k, o in optimizers.items():
        o.load_state_dict(payload["optimizers"][k])
    for k, s in (schedulers or {}).items():
        s.load_state_dict(payload["schedulers"][k])
    for k, g in (generators or {}).items():
        g.set_state(payload["generators"][k])
    torch.set_rng_state(payload["rng"]["torch"])
    np.random.set_state(payload["rng"]["numpy"])
    random.setstate(payload["rng"]["python"])
    return LoopState(**payload["loop"])


def save_best(directory: Path, model: nn.Module) -> Path:
    return save_torch(directory / BEST, model.state_dict())


def load_best(directory: Path, model: nn.Module) -> None:
    device = next(model.parameters()).device
    model.load_state_dict(torch.load(directory / BEST, weights_only=True, map_location=device))
