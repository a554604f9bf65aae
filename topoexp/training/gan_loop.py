"""A small iteration-based loop for adversarial training (GANs do not fit the epoch ``Trainer``).

The task supplies the modules, their optimisers and a ``step(iteration) -> losses`` function; the
loop runs ``iterations`` steps and

- appends the losses of every ``log_every``-th step (and the last) to the history, written to
  ``history.json`` and ``steps.jsonl`` through the callback;
- writes ``checkpoints/last.pt`` (modules, optimisers, the batch sampler, every RNG stream, the
  history) every ``checkpoint_every`` steps and at the end, atomically;
- stops on a non-finite loss with :class:`FloatingPointError`, before anything of that step is
  saved, so ``last.pt`` stays the last good state (the message names its iteration);
- with ``resume=true`` continues from ``last.pt`` and reaches the state an uninterrupted run
  reaches (same batches, same noise: every stream is restored).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from annotated_types import Ge, Gt
from torch import Tensor, nn

from topoexp.config.markers import BUILD_ARG, ArgumentError
from topoexp.io import save_torch

__all__ = ["LAST", "BatchSampler", "GANState", "GANTrainer", "load_checkpoint", "save_checkpoint"]

log = logging.getLogger("topoexp")

LAST = "last.pt"


class BatchSampler:
    """Batches of ``batch_size`` indices of ``n`` items: a seeded permutation per pass, the last
    incomplete batch of a pass dropped; its state is part of the checkpoint."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if n < batch_size:
            raise ValueError(f"{n} training images cannot fill a batch of {batch_size}")
        self.n, self.batch_size = n, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n, generator=self.generator)
        self.pos = 0

    def next(self) -> Tensor:
        if self.pos + self.batch_size > self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.generator), 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "perm": self.perm, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.perm, self.pos = state["perm"], int(state["pos"])


@dataclass
class GANState:
    iteration: int = 0  # completed steps
    history: list[dict[str, float]] = field(default_factory=list)
    finished: bool = False


def save_checkpoint(
    path: Path,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    sampler: BatchSampler | None,
    state: GANState,
    generators: dict[str, torch.Generator] | None = None,
) -> None:
    """Write a ``last.pt``: modules, optimisers, sampler, every RNG stream, the loop state."""
    payload = {
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
        "modules": {k: m.state_dict() for k, m in modules.items()},
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "sampler": None if sampler is None else sampler.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "numpy": np.random.get_state(),
            "python": random.getstate(),
        },
        "loop": state.__dict__,
    }
    save_torch(path, payload)


def load_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    """The payload of a ``last.pt`` written by :class:`GANTrainer`."""
    return torch.load(path, weights_only=False, map_location=device)


class GANTrainer:
    """Iterations, batch size, Adam settings, checkpoints and resume of an adversarial run.

    Args:
        iterations: optimiser steps of the stage (32,000 for the baseline GAN).
        batch_size: images per step (64 throughout the paper's section 3.2).
        lr, betas: Adam's rate and betas for every network of the stage (the vanilla-GAN
            recipe: 2e-4, (0.5, 0.999)).
        checkpoint_every: steps between ``last.pt`` writes (and at the end).
        log_every: steps between history records (the last step is always recorded).
        device, num_threads, deterministic: as the epoch trainer (read by the harness).
        resume: continue from ``<run dir>/checkpoints/last.pt``.
        resume_allow: config keys a resume may change (recorded in ``resumes.json``).
        progress: log a line at every history record.
        seed: the run seed (batches of the sampler).
    """

    def __init__(
        self,
        iterations: Annotated[int, Ge(0)] = 32_000,
        batch_size: Annotated[int, Ge(1)] = 64,
        lr: Annotated[float, Gt(0)] = 2e-4,
        betas: list[float] = [0.5, 0.999],  # noqa: B006 (config default)
        checkpoint_every: Annotated[int, Ge(1)] = 1000,
        log_every: Annotated[int, Ge(1)] = 100,
        device: str = "cpu",
        num_threads: int | Literal["auto"] = "auto",
        deterministic: bool = True,
        resume: bool = False,
        resume_allow: list[str] = [],  # noqa: B006 (config default)
        progress: bool = True,
        seed: Annotated[int, BUILD_ARG] = 0,
    ) -> None:
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ArgumentError("betas", f"two values in [0, 1), got {list(betas)}")
        self.iterations, self.batch_size = int(iterations), int(batch_size)
        self.lr, self.betas = float(lr), [float(b) for b in betas]
        self.checkpoint_every, self.log_every = int(checkpoint_every), int(log_every)
        self.device, self.num_threads, self.deterministic = device, num_threads, deterministic
        self.resume, self.resume_allow = bool(resume), list(resume_allow)
        self.progress, self.seed = bool(progress), int(seed)

    def adam(self, params) -> torch.optim.Adam:
        return torch.optim.Adam(params, lr=self.lr, betas=tuple(self.betas))

    def sampler(self, n: int) -> BatchSampler:
        return BatchSampler(n, self.batch_size, self.seed)

    def fit(
        self,
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        sampler: BatchSampler | None,
        step: Callable[[int], dict[str, float]],
        checkpoint_dir: Path,
        on_record: Callable[[dict[str, float], GANState], None] | None = None,
        generators: dict[str, torch.Generator] | None = None,
    ) -> GANState:
        """Run the remaining steps (all of them, or those after ``last.pt`` when resuming).

        ``generators``: the step's own random streams (latent codes), saved and restored with
        the rest."""
        checkpoint_dir = Path(checkpoint_dir)
        generators = generators or {}
        state = GANState()
        restored = self.resume and (checkpoint_dir / LAST).exists()
        if restored:
            state = self._restore(checkpoint_dir / LAST, modules, optimizers, sampler, generators)
            log.info("resumed from %s at iteration %d", checkpoint_dir / LAST, state.iteration)
        elif self.resume:
            log.info("trainer.resume=true but no %s yet: starting from iteration 0", LAST)
        for m in modules.values():
            m.train()
        started = time.perf_counter()
        last_saved = state.iteration if restored else None
        first = state.iteration
        while state.iteration < self.iterations:
            it = state.iteration
            losses = step(it)
            bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
            if bad:
                kept = (
                    f"checkpoints/{LAST} holds the last good state (iteration {last_saved})"
                    if last_saved is not None
                    else "no checkpoint was written yet"
                )
                raise FloatingPointError(
                    f"non-finite loss at iteration {it + 1}: {bad}; training stopped, {kept}"
                )
            state.iteration = it + 1
            if state.iteration % self.log_every == 0 or state.iteration == self.iterations:
                record = {"iteration": float(state.iteration), **losses}
                record["time/iter_s"] = (time.perf_counter() - started) / (state.iteration - first)
                state.history.append(record)
                if on_record is not None:
                    on_record(record, state)
                if self.progress:
                    log.info("iteration %d/%d %s", state.iteration, self.iterations,
                             " ".join(f"{k}={v:.4g}" for k, v in losses.items()))  # fmt: skip
            done = state.iteration == self.iterations
            if state.iteration % self.checkpoint_every == 0 or done:
                state.finished = done
                save_checkpoint(
                    checkpoint_dir / LAST, modules, optimizers, sampler, state, generators
                )
                last_saved = state.iteration
        if not state.finished:  # resumed a run that was already complete
            state.finished = True
        return state

    def _restore(self, path, modules, optimizers, sampler, generators) -> GANState:
        payload = load_checkpoint(path, self.device)
        for k, g in generators.items():
            g.set_state(payload["generators"][k])
        for k, m in modules.items():
            m.load_state_dict(payload["modules"][k])
        for k, o in optimizers.items():
            o.load_state_dict(payload["optimizers"][k])
        if sampler is not None:
            sampler.load_state_dict(payload["sampler"])
        torch.set_rng_state(payload["rng"]["torch"])
        np.random.set_state(payload["rng"]["numpy"])
        random.setstate(payload["rng"]["python"])
        return GANState(**payload["loop"])
