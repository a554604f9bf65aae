"""Command line: ``python -m topoexp [+experiment=<name>] [key=value ...] [-m]``.

Imports only Hydra and the config schemas at start-up, so ``--help`` and ``--cfg job`` answer in
about a second; the harness and its heavy dependencies load when a job runs. ``--help`` is
answered by :mod:`topoexp.cli_help` (Hydra's own is 5× slower on this config tree).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from topoexp.config.schema import register_configs


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def hydra_main(cfg: DictConfig) -> float:
    from topoexp.run import run_for_sweep

    return run_for_sweep(cfg)


def main() -> None:
    args = sys.argv[1:]
    if "--help" in args or "-h" in args:
        from topoexp.cli_help import help_text

        print(help_text([a for a in args if not a.startswith("-")]))
        return
    register_configs()
    hydra_main()


if __name__ == "__main__":
    main()
