"""Command line: ``topoexp [+experiment=<name>] [key=value ...] [-m]`` (or ``python -m topoexp``).

Imports only Hydra and the config schemas at start-up, so ``--help`` and ``--cfg job`` answer in
about a second; the harness and its heavy dependencies load when a job runs. ``--help`` is
answered by :mod:`topoexp.cli_help` (Hydra's own is 5× slower on this config tree); errors,
``--cfg job`` checks and debug presets by :mod:`topoexp.cli`. The configs are the checkout's
``conf/``, or the copy an installed wheel carries (:mod:`topoexp.config.location`).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from topoexp.cli import apply_debug, debugging, main
from topoexp.config.schema import CONF_DIR

__all__ = ["hydra_main", "main"]


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from topoexp.config.validate import ConfigError
    from topoexp.run import run_for_sweep

    apply_debug(cfg)
    try:
        return run_for_sweep(cfg)
    except ConfigError as error:  # raised before anything is written
        if debugging() or HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        print(f"topoexp: {error}\n(TOPOEXP_DEBUG=1 shows the traceback)", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
