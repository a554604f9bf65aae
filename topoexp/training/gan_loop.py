"""The iteration trainer of adversarial training: a configuration of the engine.

The task supplies the modules, their optimisers and a ``step(iteration) -> losses`` function; the
engine runs ``iterations`` steps and

- appends the losses of every ``log_every``-th step (and the last) to the history, written to
  ``history.json`` and ``steps.jsonl`` through the callback;
- writes ``checkpoints/last.pt`` (modules, optimisers, the batch sampler, every RNG stream, the
  history) every ``checkpoint_every`` steps and at the end, atomically;
- stops on a non-finite loss with :class:`NonFiniteLossError` (a ``FloatingPointError``), before
  anything of that step is saved, so ``last.pt`` stays the last good state (the message names
  its iteration);
- with ``resume=true`` continues from ``last.pt`` and reaches the state an uninterrupted run
  reaches (same batches, same noise: every stream is restored).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from annotated_types import Ge, Gt
from torch import nn

from topoexp.capabilities import GAN_STAGES
from topoexp.config.markers import BUILD_ARG, ArgumentError
from topoexp.training.batches import StreamBatches
from topoexp.training.callbacks import Checkpoint, OnRecord, RecordLog
from topoexp.training.checkpoint import LAST, LoopState, load_checkpoint
from topoexp.training.checkpoint import save_checkpoint as _save
from topoexp.training.engine import Engine, NonFiniteLossError
from topoexp.training.schedule import Iterations
from topoexp.training.steps import FunctionStep

__all__ = [
    "LAST",
    "BatchSampler",
    "GANState",
    "GANTrainer",
    "NonFiniteLossError",
    "load_checkpoint",
    "save_checkpoint",
]

#: The iteration schedule's batch sampler (a permutation per pass, resumable).
BatchSampler = StreamBatches
#: The loop state (``iteration``, ``history``, ``finished`` are the GAN loop's fields).
GANState = LoopState


def save_checkpoint(
    path: Path,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    sampler: StreamBatches | None,
    state: LoopState,
    generators: Mapping[str, torch.Generator] | None = None,
) -> None:
    """Write a ``last.pt`` in the engine's format (modules, optimisers, sampler, streams)."""
    _save(
        path,
        modules,
        optimizers,
        state,
        batches=None if sampler is None else sampler.state_dict(),
        generators=generators,
    )


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

    offers = frozenset({GAN_STAGES})

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
        sampler: StreamBatches | None,
        step: Callable[[int], dict[str, float]],
        checkpoint_dir: Path,
        on_record: Callable[[dict[str, float], LoopState], None] | None = None,
        generators: dict[str, torch.Generator] | None = None,
    ) -> LoopState:
        """Run the remaining steps (all of them, or those after ``last.pt`` when resuming).

        ``generators``: the step's own random streams (latent codes), saved and restored with
        the rest."""
        callbacks: list[Any] = [] if on_record is None else [OnRecord(on_record)]
        callbacks += [RecordLog(self.progress), Checkpoint(Path(checkpoint_dir))]
        engine = Engine(
            FunctionStep(step, modules, optimizers),
            Iterations(self.iterations, self.log_every, self.checkpoint_every),
            sampler,
            callbacks,
            checkpoint_dir,
            generators=generators,
            resume=self.resume,
            if_missing="start",
            device=self.device,
        )
        return engine.fit()
