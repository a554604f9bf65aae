"""Where a run's config, per-epoch losses, metrics and figures are sent besides its directory."""

from topoexp.sinks.base import NullSink, Sink
from topoexp.sinks.wandb_sink import WandbSink, make_sink

__all__ = ["NullSink", "Sink", "WandbSink", "make_sink"]
