"""How long the engine trains: whole epochs over a batch source, or a number of iterations."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Epochs", "Iterations"]


@dataclass(frozen=True)
class Epochs:
    """``total`` passes over the batch source; a record (the history's row) after each."""

    total: int


@dataclass(frozen=True)
class Iterations:
    """``total`` steps; a record every ``record_every`` steps and at the last, ``last.pt``
    every ``checkpoint_every`` steps and at the last."""

    total: int
    record_every: int = 100
    checkpoint_every: int = 1000

    def records(self, iteration: int) -> bool:
        return iteration % self.record_every == 0 or iteration == self.total

    def checkpoints(self, iteration: int) -> bool:
        return iteration % self.checkpoint_every == 0 or iteration == self.total
