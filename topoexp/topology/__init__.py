"""Persistent homology: pairings, barcodes, filtrations, layers and features (pure torch/NumPy)."""

from topoexp.topology.alpha import weak_alpha_barcode_1d, weak_alpha_barcodes
from topoexp.topology.barcode import Barcode, diagrams
from topoexp.topology.complexes import SimplicialComplex, grid_complex, path_complex
from topoexp.topology.deaths import H0Deaths, death_times0
from topoexp.topology.directional import DirectionalFeatures, height_functions
from topoexp.topology.distances import data_distances, pairwise_distances
from topoexp.topology.features import (
    BarcodeEnergy,
    BarcodePolyFeature,
    PartialSumBarcodeLengths,
    SumBarcodeLengths,
    TopKBarcodeLengths,
    barcode_energy,
    barcode_energy_grid,
)
from topoexp.topology.layers import (
    AlphaLayer,
    LevelSetLayer,
    LevelSetLayer1D,
    LevelSetLayer2D,
    RipsLayer,
)
from topoexp.topology.levelset import LowerStarComplex, levelset_barcodes
from topoexp.topology.pairing import death_times, pairing0
from topoexp.topology.rips import rips_barcodes

__all__ = [
    "AlphaLayer",
    "Barcode",
    "BarcodeEnergy",
    "BarcodePolyFeature",
    "DirectionalFeatures",
    "H0Deaths",
    "LevelSetLayer",
    "LevelSetLayer1D",
    "LevelSetLayer2D",
    "LowerStarComplex",
    "PartialSumBarcodeLengths",
    "RipsLayer",
    "SimplicialComplex",
    "SumBarcodeLengths",
    "TopKBarcodeLengths",
    "barcode_energy",
    "barcode_energy_grid",
    "data_distances",
    "death_times",
    "death_times0",
    "diagrams",
    "grid_complex",
    "height_functions",
    "levelset_barcodes",
    "pairing0",
    "pairwise_distances",
    "path_complex",
    "rips_barcodes",
    "weak_alpha_barcode_1d",
    "weak_alpha_barcodes",
]
