"""The task seam: what the harness hands a task, and what a task hands back.

The harness (:mod:`topoexp.run`) validates the config, seeds, owns the run directory, the
status record, the sinks and the sweep objective. A task is a component (``conf/task/``) with

- ``job_type``: its kind, for W&B (``embedding``, ``one_class``, ...);
- ``check(cfg)``: checks between the components it combines, run before anything is written;
- ``__call__(ctx) -> TaskResult``: builds its components from ``ctx``, loads its data, trains
  and evaluates, writes its arrays into ``ctx.output_dir`` and returns flat metrics and figures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from omegaconf import DictConfig

from topoexp import io
from topoexp.config.build import build
from topoexp.records import RunRecord
from topoexp.sinks.base import Sink

__all__ = ["RunContext", "Task", "TaskResult"]

log = logging.getLogger("topoexp")


@dataclass
class RunContext:
    """Everything a task may use from the harness."""

    cfg: DictConfig
    output_dir: Path
    sink: Sink
    record: RunRecord
    seed: int
    device: str = "cpu"

    def build(self, key: str, /, **build_args: Any) -> Any:
        """Build the component at ``key`` of the config (see :func:`topoexp.config.build`)."""
        return build(self.cfg, key, **build_args)

    def write_history(self, history: list[dict[str, float]]) -> None:
        """Write the per-epoch history (called after every epoch, so it survives a crash)."""
        io.write_json(self.output_dir / "history.json", history)

    def log_step(self, record: dict[str, float]) -> None:
        """Append a per-batch record to ``steps.jsonl`` and send it to the sinks."""
        import json

        with open(self.output_dir / "steps.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        self.sink.log_step(record)

    @property
    def title(self) -> str:
        return f"{self.cfg.method} on {self.cfg.dataset.name} (seed {self.seed})"


@dataclass
class TaskResult:
    """Flat metrics (JSON-able floats) and named matplotlib figures."""

    metrics: dict[str, float]
    figures: dict[str, Any] = field(default_factory=dict)


class Task(Protocol):
    job_type: str

    def check(self, cfg: DictConfig) -> None: ...

    def __call__(self, ctx: RunContext) -> TaskResult: ...
