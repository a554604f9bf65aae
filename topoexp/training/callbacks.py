"""Callbacks of the engine: early stopping, checkpoints, the history sink, progress, step records.

Hooks (each optional): ``on_fit_start(engine)``, ``on_epoch_start(engine, epoch)``,
``on_step(engine, step, value, parts)`` after every optimiser step, ``on_epoch_end(engine,
record)`` before the epoch's record joins the history (it may add keys or stop training),
``on_record(engine, record)`` once it has, and ``on_fit_end(engine)``. The non-finite stop is
the engine's own: it names what :class:`Checkpoint` kept.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn
from tqdm.auto import tqdm

from topoexp.training.checkpoint import BEST, LAST, LoopState, load_best, save_best
from topoexp.training.steps import NonFiniteStep

if TYPE_CHECKING:
    from topoexp.training.engine import Engine

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "EpochProgress",
    "Evaluate",
    "OnRecord",
    "RecordLog",
    "StepRecords",
]

log = logging.getLogger("topoexp")


class Callback:
    """No-op hooks; subclasses override the ones they need."""

    def on_fit_start(self, engine: Engine) -> None: ...
    def on_epoch_start(self, engine: Engine, epoch: int) -> None: ...
    def on_step(self, engine: Engine, step: int, value: float | None, parts: dict) -> None: ...
    def on_epoch_end(self, engine: Engine, record: dict[str, float]) -> None: ...
    def on_record(self, engine: Engine, record: dict[str, float]) -> None: ...
    def on_fit_end(self, engine: Engine) -> None: ...


class Evaluate(Callback):
    """Adds ``{prefix}/{key}`` for every ``evaluate() -> dict`` to the epoch's record."""

    def __init__(self, prefix: str, evaluate: Callable[[], dict[str, float]]) -> None:
        self.prefix, self.evaluate = prefix, evaluate

    def on_epoch_end(self, engine: Engine, record: dict[str, float]) -> None:
        record |= {f"{self.prefix}/{k}": v for k, v in self.evaluate().items()}


class EarlyStopping(Callback):
    """Stops after ``patience`` epochs without a strict improvement of ``monitor``; saves the
    best model to ``best.pt``; a non-finite ``monitor`` stops the run. ``reload_best``: the
    model holds the best weights at the end."""

    def __init__(
        self,
        model: nn.Module,
        directory: Path,
        patience: int,
        monitor: str = "val/loss",
        reload_best: bool = True,
    ) -> None:
        self.model, self.directory, self.patience = model, Path(directory), patience
        self.monitor, self.reload_best = monitor, reload_best

    def on_epoch_end(self, engine: Engine, record: dict[str, float]) -> None:
        state, value = engine.state, record[self.monitor]
        epoch = int(record["epoch"])
        if not math.isfinite(value):
            raise NonFiniteStep({self.monitor: value}, f"on the validation split at epoch {epoch}")
        if value < state.best_val:
            state.best_val, state.best_epoch, state.bad_epochs = value, epoch, 0
            save_best(self.directory, self.model)
        else:
            state.bad_epochs += 1
        engine.stop_after_epoch = state.bad_epochs >= self.patience

    def on_fit_end(self, engine: Engine) -> None:
        state = engine.state
        if engine.stopped_early:
            log.info(
                "early stop after %d epochs (best_epoch %d, 0-based as in metrics.json)",
                state.epoch,
                state.best_epoch,
            )
        if self.reload_best:
            load_best(self.directory, self.model)


class Checkpoint(Callback):
    """Writes ``last.pt`` after every epoch, or every ``schedule.checkpoint_every`` iterations
    and at the last; says what it kept when training stops."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.saved: int | None = None  # epoch / iteration of the last write

    def on_fit_start(self, engine: Engine) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if engine.resumed:
            self.saved = engine.progress()

    def on_record(self, engine: Engine, record: dict[str, float]) -> None:
        if engine.by_epoch:
            self._save(engine)

    def on_step(self, engine: Engine, step: int, value: float | None, parts: dict) -> None:
        if not engine.by_epoch and engine.schedule.checkpoints(engine.state.iteration):
            engine.state.finished = engine.state.iteration == engine.schedule.total
            self._save(engine)

    def _save(self, engine: Engine) -> None:
        engine.save(self.directory / LAST)
        self.saved = engine.progress()

    def kept(self, unit: str) -> str:
        if self.saved is None:
            return "no checkpoint was written yet"
        text = f"{LAST} holds the last good state ({unit} {self.saved})"
        if (self.directory / BEST).exists():
            text += f" and {BEST} the best model"
        return f"{text}, in {self.directory}"


class OnRecord(Callback):
    """Calls ``fn(record, state)`` with every record once it is in the history."""

    def __init__(self, fn: Callable[[dict[str, float], LoopState], None]) -> None:
        self.fn = fn

    def on_record(self, engine: Engine, record: dict[str, float]) -> None:
        self.fn(record, engine.state)


class StepRecords(Callback):
    """Every ``every``-th step of an epoch, ``fn`` gets the batch's loss and components."""

    def __init__(self, fn: Callable[[dict[str, float]], None], every: int) -> None:
        self.fn, self.every = fn, every
        self.epoch = 0

    def on_epoch_start(self, engine: Engine, epoch: int) -> None:
        self.epoch = epoch

    def on_step(self, engine: Engine, step: int, value: float | None, parts: dict) -> None:
        if self.every and step % self.every == 0:
            self.fn(
                {
                    "epoch": self.epoch,
                    "step": step,
                    "global_step": self.epoch * engine.steps_per_epoch + step,
                    "train/loss": value,
                    **{f"train/{k}": v for k, v in parts.items()},
                }
            )


class EpochProgress(Callback):
    """A progress bar over each epoch's batches and a log line per epoch."""

    def __init__(self, enabled: bool, monitor: str = "val/loss") -> None:
        self.enabled, self.monitor = enabled, monitor
        self.bar: Any = None

    def on_epoch_start(self, engine: Engine, epoch: int) -> None:
        self.bar = tqdm(
            total=engine.steps_per_epoch,
            desc=f"epoch {epoch + 1}/{engine.schedule.total}",
            disable=not self.enabled,
            leave=False,
            mininterval=1.0,
        )

    def on_step(self, engine: Engine, step: int, value: float | None, parts: dict) -> None:
        self.bar.update(1)

    def on_epoch_end(self, engine: Engine, record: dict[str, float]) -> None:
        self.bar.close()

    def on_record(self, engine: Engine, record: dict[str, float]) -> None:
        epoch = int(record["epoch"])
        log.info(
            "epoch %d/%d: train %.5g, validation %.5g%s (%.1f s)",
            epoch + 1,
            engine.schedule.total,
            record["train/loss"],
            record.get(self.monitor, float("nan")),
            " *" if engine.state.best_epoch == epoch else "",
            record["time/epoch_s"],
        )


class RecordLog(Callback):
    """A log line per record of an iteration schedule."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def on_record(self, engine: Engine, record: dict[str, float]) -> None:
        if self.enabled:
            losses = {k: v for k, v in record.items() if k not in ("iteration", "time/iter_s")}
            log.info("iteration %d/%d %s", engine.state.iteration, engine.schedule.total,
                     " ".join(f"{k}={v:.4g}" for k, v in losses.items()))  # fmt: skip
