"""Command line: ``python -m topoexp [+experiment=<name>] [key=value ...] [-m]``.

Imports only Hydra and the config schemas at start-up, so ``--help`` and ``--cfg job`` answer in
about a second; the harness and its heavy dependencies load when a job runs.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from topoexp.config.schema import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from topoexp.run import run_for_sweep

    return run_for_sweep(cfg)


if __name__ == "__main__":
    main()
