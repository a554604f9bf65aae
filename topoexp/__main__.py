"""Command line: ``python -m topoexp [+experiment=<name>] [key=value ...] [-m]``."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from topoexp.config.schema import register_configs
from topoexp.run import run_for_sweep

register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    return run_for_sweep(cfg)


if __name__ == "__main__":
    main()
