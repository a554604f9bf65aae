"""The training engine: one loop for every model, by epochs or by iterations.

An :class:`Engine` runs a step object (:mod:`topoexp.training.steps`: a model's own loss, a
classifier's cross-entropy, a GAN stage) over a batch source (:mod:`topoexp.training.batches`)
for a schedule (:mod:`topoexp.training.schedule`), with callbacks
(:mod:`topoexp.training.callbacks`: early stopping, checkpoints, history, progress, step records).
Learning-rate schedulers step after each epoch. One checkpoint format
(:mod:`topoexp.training.checkpoint`) and one resume path: ``resume=True`` restores modules,
optimisers, schedulers, the batch source, the run's random streams and the loop state from
``last.pt``, so a resumed run equals an uninterrupted one bit for bit on the CPU. A non-finite
loss stops training before that step changes anything; :class:`NonFiniteLossError` says which
checkpoints hold the last good state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from topoexp.training.callbacks import Callback, Checkpoint
from topoexp.training.checkpoint import LAST, LoopState, load_checkpoint, restore, save_checkpoint
from topoexp.training.schedule import Epochs, Iterations
from topoexp.training.steps import NonFiniteStep

__all__ = ["Engine", "NonFiniteLossError", "mean_loss"]

log = logging.getLogger("topoexp")

Summary = Callable[[list[tuple[float | None, dict[str, float]]]], dict[str, float]]


class NonFiniteLossError(RuntimeError, FloatingPointError):
    """A loss became NaN or infinite; the message says which checkpoints hold what."""


def mean_loss(results: list[tuple[float | None, dict[str, float]]]) -> dict[str, float]:
    """``train/loss``: the mean of the epoch's step losses (summed in step order)."""
    running = 0.0
    for value, _ in results:
        running += value  # type: ignore[operator]
    return {"train/loss": running / len(results)}


class Engine:
    """Runs ``step`` for ``schedule`` (see the module docstring).

    Args:
        step: the step object; its ``modules`` and ``optimizers`` are checkpointed.
        schedule: :class:`Epochs` over ``batches`` or :class:`Iterations` (the step gets the
            iteration number and draws its own batches).
        batches: the epoch schedule's batch source (re-iterated every epoch); for iterations,
            optionally an object with ``state_dict`` / ``load_state_dict`` saved with the rest.
        callbacks: run in order at every hook.
        checkpoint_dir: where ``last.pt`` lives (the :class:`Checkpoint` callback writes it).
        schedulers: learning-rate schedulers, stepped after every epoch.
        generators: the run's own random streams (batch order, latent codes), checkpointed.
        summary: the epoch record's training part from the epoch's ``(value, parts)``.
        resume: continue from ``checkpoint_dir/last.pt``; ``if_missing``: ``error`` or
            ``start`` (from scratch) when there is none.
        device: where the checkpoint's tensors are loaded.
    """

    def __init__(
        self,
        step: Any,
        schedule: Epochs | Iterations,
        batches: Iterable[Any] | None = None,
        callbacks: Sequence[Callback] = (),
        checkpoint_dir: Path | None = None,
        *,
        schedulers: Mapping[str, Any] | None = None,
        generators: Mapping[str, torch.Generator] | None = None,
        summary: Summary = mean_loss,
        resume: bool = False,
        if_missing: Literal["error", "start"] = "error",
        device: str | torch.device = "cpu",
    ) -> None:
        self.step, self.schedule, self.batches = step, schedule, batches
        self.callbacks = list(callbacks)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.schedulers = dict(schedulers or {})
        self.generators = dict(generators or {})
        self.summary, self.resume, self.if_missing = summary, resume, if_missing
        self.device = device
        self.by_epoch = isinstance(schedule, Epochs)
        self.state = LoopState()
        self.resumed = self.stopped_early = self.stop_after_epoch = False

    # ------------------------------------------------------------------ state and checkpoints

    @property
    def steps_per_epoch(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def progress(self) -> int:
        """Completed epochs (epoch schedule) or iterations."""
        return self.state.epoch if self.by_epoch else self.state.iteration

    def _stateful_batches(self) -> Any:
        return None if self.by_epoch or not hasattr(self.batches, "state_dict") else self.batches

    def save(self, path: Path) -> Path:
        """Write the one checkpoint format to ``path``."""
        source = self._stateful_batches()
        return save_checkpoint(
            path,
            self.step.modules,
            self.step.optimizers,
            self.state,
            schedulers=self.schedulers,
            batches=None if source is None else source.state_dict(),
            generators=self.generators,
        )

    def _restore(self) -> None:
        assert self.checkpoint_dir is not None
        path = self.checkpoint_dir / LAST
        if not path.exists():
            if self.if_missing == "error":
                raise FileNotFoundError(
                    f"trainer.resume=true but there is no checkpoint at {path}; "
                    "point hydra.run.dir at the directory of the run to resume"
                )
            log.info("trainer.resume=true but no %s yet: starting from the beginning", LAST)
            return
        payload = load_checkpoint(path, self.device)
        self.state = restore(
            payload,
            self.step.modules,
            self.step.optimizers,
            schedulers=self.schedulers,
            generators=self.generators,
        )
        source = self._stateful_batches()
        if source is not None and payload.get("batches") is not None:
            source.load_state_dict(payload["batches"])
        self.resumed = True
        log.info("resumed from %s after %d %s", path, self.progress(),
                 "epochs" if self.by_epoch else "iterations")  # fmt: skip

    def _kept(self) -> str:
        unit = "epoch" if self.by_epoch else "iteration"
        for cb in self.callbacks:
            if isinstance(cb, Checkpoint):
                if cb.saved is None and self.by_epoch:
                    return "no epoch completed, so no checkpoint was written"
                return cb.kept(unit)
        return "no checkpoint is written by this loop"

    # ------------------------------------------------------------------------------ the loop

    def _hook(self, name: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, name)(self, *args)

    def fit(self) -> LoopState:
        """Train to the end of the schedule (or early stop); return the loop state."""
        if self.resume:
            self._restore()
        self._hook("on_fit_start")
        try:
            if self.by_epoch:
                self._epochs()
            else:
                self._iterations()
        except NonFiniteStep as stop:
            raise NonFiniteLossError(
                f"non-finite loss {stop.losses} {stop.where}; training stopped: {self._kept()}"
            ) from None
        self._hook("on_fit_end")
        return self.state

    def _epochs(self) -> None:
        state, total = self.state, self.schedule.total
        for epoch in range(state.epoch, total):
            if state.finished:
                break
            started = time.perf_counter()
            self.step.train()
            self._hook("on_epoch_start", epoch)
            results: list[tuple[float | None, dict[str, float]]] = []
            for k, batch in enumerate(self.batches):  # type: ignore[arg-type]
                try:
                    value, parts = self.step(batch)
                except NonFiniteStep as stop:
                    stop.where = stop.where or f"at epoch {epoch}, step {k}"
                    raise
                results.append((value, parts))
                state.iteration += 1
                self._hook("on_step", k, value, parts)
            for scheduler in self.schedulers.values():
                scheduler.step()
            record: dict[str, float] = {"epoch": epoch, **self.summary(results)}
            self._hook("on_epoch_end", record)
            record["time/epoch_s"] = time.perf_counter() - started
            state.epoch = epoch + 1
            state.history.append(record)
            state.finished = self.stop_after_epoch
            self._hook("on_record", record)
        self.stopped_early = state.finished and state.epoch < total
        state.finished = True

    def _iterations(self) -> None:
        state, schedule = self.state, self.schedule
        assert isinstance(schedule, Iterations)
        self.step.train()
        started, first = time.perf_counter(), state.iteration
        while state.iteration < schedule.total:
            it = state.iteration
            try:
                value, losses = self.step(it)
            except NonFiniteStep as stop:
                stop.where = stop.where or f"at iteration {it + 1}"
                raise
            state.iteration = it + 1
            if schedule.records(state.iteration):
                record = {"iteration": float(state.iteration), **losses}
                record["time/iter_s"] = (time.perf_counter() - started) / (state.iteration - first)
                state.history.append(record)
                self._hook("on_record", record)
            self._hook("on_step", it, value, losses)
        state.finished = True
