"""Where a run's config, per-epoch losses, metrics and figures are sent besides its directory."""

from topoexp.sinks.base import NullSink, Sink

__all__ = ["NullSink", "Sink"]
