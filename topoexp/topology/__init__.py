"""Persistent homology: pairings, diagrams, filtrations (pure torch/NumPy, no I/O)."""

from topoexp.topology.distances import data_distances, pairwise_distances
from topoexp.topology.pairing import death_times, pairing0

__all__ = ["data_distances", "death_times", "pairing0", "pairwise_distances"]
