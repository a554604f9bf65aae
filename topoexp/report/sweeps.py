"""The best trial of a finished Optuna sweep as Hydra overrides.

``python -m topoexp.report.sweeps <sweep dir>`` prints e.g. ``loss.lam=1.73 trainer.lr=0.001``
from the sweep's ``optimization_results.yaml``, ready to append to a ``python -m topoexp`` call.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml


def best_overrides(sweep_dir: Path) -> list[str]:
    """``key=value`` overrides of the best parameters found in ``sweep_dir``."""
    results = sweep_dir / "optimization_results.yaml"
    if not results.exists():
        raise FileNotFoundError(
            f"no optimization_results.yaml in {sweep_dir}: has the sweep finished?"
        )
    best = yaml.safe_load(results.read_text())["best_params"]
    return [
        f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"
        for key, value in best.items()
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    print(" ".join(best_overrides(parser.parse_args(argv).sweep_dir)))


if __name__ == "__main__":
    main()
