"""``python -m topoexp --help``: the config groups and the composed config, in about a second.

Hydra's own ``--help`` copies its whole config store once per option it lists (158 copies for
this tree, 5.6 s of the 5.9 s the command took on a loaded 2-core machine). The groups are the
folders of ``conf/`` and the options their files, so they are listed from the file system here;
the config is composed with Hydra's compose API, the same way a run composes it.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from topoexp.config.schema import CONF_DIR

__all__ = ["config_groups", "help_text"]

USAGE = """topoexp: reproducible experiments for topology-aware representation learning.

Usage: python -m topoexp [+experiment=<name>] [+sweep=<name>] [group=option] [key=value ...] [-m]

  python -m topoexp                             SPHERES TopoAE (TopoAE paper, Table 1)
  python -m topoexp +experiment=mnist/topoae    any published setting (conf/experiment/)
  python -m topoexp -m seed=1,2,3               a multirun; +sweep=<name> for a search
  python -m topoexp --cfg job                   print the composed config
  python -m topoexp --hydra-help                Hydra's own options
"""


def config_groups(conf_dir: Path = CONF_DIR) -> dict[str, list[str]]:
    """``{group: options}`` for every folder of YAML files under ``conf_dir`` (Hydra's excluded)."""
    groups: dict[str, list[str]] = {}
    for folder in sorted(p for p in conf_dir.rglob("*") if p.is_dir()):
        group = folder.relative_to(conf_dir).as_posix()
        if group in ("hydra", "report") or group.startswith("hydra/"):
            continue  # Hydra's own; conf/report holds the report's specs, not run options
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if options:
            groups[group] = options
    return groups


def help_text(overrides: list[str]) -> str:
    from hydra import compose, initialize_config_dir

    from topoexp.config.schema import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    groups = "\n".join(f"{g}: {', '.join(o)}" for g, o in config_groups().items())
    return (
        f"{USAGE}\n== Configuration groups ==\nCompose your configuration from those groups "
        f"(group=option)\n\n{groups}\n\n== Config ==\nOverride anything in the config "
        f"(foo.bar=value)\n\n{OmegaConf.to_yaml(cfg)}"
    )
