"""Evaluators: pure functions from (data, latents) to flat metric dicts."""

from topoexp.evaluation.nldr import DEFAULT_SIGMAS, NLDRCurves, nldr_curves, nldr_metrics

__all__ = ["DEFAULT_SIGMAS", "NLDRCurves", "nldr_curves", "nldr_metrics"]
