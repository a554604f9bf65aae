"""Evaluators: pure functions from (data, latents) to flat metric dicts."""
