"""topoexp: reproducible, composable experiments for topology-aware representation learning."""

__version__ = "0.1.0"
