"""The sink interface the run talks to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Sink(Protocol):
    def log_epoch(self, record: dict[str, float]) -> None: ...

    def log_step(self, record: dict[str, float]) -> None: ...

    @property
    def takes_images(self) -> bool: ...

    def log_images(self, epoch: int, images: dict[str, Any]) -> None: ...

    def log_table(
        self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None: ...

    def log_summary(self, metrics: dict[str, float], figures: dict[str, Any]) -> None: ...

    def finish(self, failed: bool) -> None: ...


class NullSink:
    """Discards everything (``logger=none``).

    Takes the W&B sink's keys, unused, so that every experiment (which names its W&B group and
    tags) also runs with ``logger=none``.
    """

    def __init__(
        self,
        project: str = "topoexp",
        entity: str | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
        mode: str = "disabled",
    ) -> None:
        self.project, self.entity, self.group, self.tags, self.mode = (
            project,
            entity,
            group,
            tags,
            mode,
        )

    def log_epoch(self, record: dict[str, float]) -> None:
        pass

    def log_step(self, record: dict[str, float]) -> None:
        pass

    @property
    def takes_images(self) -> bool:
        """Whether :meth:`log_images` keeps anything (tasks skip making images otherwise)."""
        return False

    def log_images(self, epoch: int, images: dict[str, Any]) -> None:
        pass

    def log_table(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        pass

    def log_summary(self, metrics: dict[str, float], figures: dict[str, Any]) -> None:
        pass

    def finish(self, failed: bool) -> None:
        pass
