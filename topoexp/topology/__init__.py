"""Persistent homology: pairings, diagrams, filtrations (pure torch/NumPy, no I/O)."""

from topoexp.topology.pairing import death_times, pairing0

__all__ = ["death_times", "pairing0"]
