"""The sink interface the run talks to."""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    def log_epoch(self, record: dict[str, float]) -> None: ...

    def log_summary(self, metrics: dict[str, float], figures: dict[str, Any]) -> None: ...

    def finish(self, failed: bool) -> None: ...


class NullSink:
    """Discards everything (``logger=none``)."""

    def log_epoch(self, record: dict[str, float]) -> None:
        pass

    def log_summary(self, metrics: dict[str, float], figures: dict[str, Any]) -> None:
        pass

    def finish(self, failed: bool) -> None:
        pass
