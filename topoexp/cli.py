"""The ``topoexp`` command around Hydra's, and :func:`run_experiment` for Python.

On top of Hydra's command line: a config error prints one message (``TOPOEXP_DEBUG=1`` or
``HYDRA_FULL_ERROR=1`` shows the traceback); an unknown option of a config group
(``model=mlpp``, ``+experiment=spheres/topoea``) lists the valid ones with a did-you-mean;
``--cfg job`` validates the config it prints; ``debug=<preset>`` (``conf/debug/``) applies its
settings after the experiment's own. Hydra's options (``-m``, ``--shell-completion``,
``--info`` ...) are Hydra's.
"""

from __future__ import annotations

import copy
import difflib
import os
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from topoexp.config.schema import CONF_DIR, register_configs

__all__ = [
    "UnknownOption",
    "apply_debug",
    "check_options",
    "compose_config",
    "debugging",
    "group_options",
    "main",
    "run_experiment",
]

_MISSING = object()


class UnknownOption(ValueError):
    """An option that no file of its config group provides."""


def debugging() -> bool:
    """Whether errors show their traceback (``TOPOEXP_DEBUG=1``, or ``HYDRA_FULL_ERROR=1``)."""
    switches = ("TOPOEXP_DEBUG", "HYDRA_FULL_ERROR")
    return any(os.environ.get(v, "") not in ("", "0") for v in switches)


def group_options(group: str, conf_dir: Path = CONF_DIR) -> list[str] | None:
    """Every option of config group ``group`` (``spheres/topoae`` for nested files); ``None`` when
    ``group`` is no folder of ``conf_dir`` (a value key such as ``trainer.lr``)."""
    folder = conf_dir / group
    if group.startswith("hydra") or "." in group or not folder.is_dir():
        return None
    return sorted(p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.yaml"))


def _values(override: Any) -> Iterator[str]:
    if override.is_sweep_override():
        yield from override.sweep_string_iterator()
    else:
        yield override.get_value_element_as_str()


def unknown_option_message(group: str, value: str, options: Sequence[str]) -> str:
    """``unknown <group> option '<value>'``, the closest options and the valid ones."""
    close = difflib.get_close_matches(value, options, n=3, cutoff=0.6)
    message = f"unknown {group} option '{value}'"
    if close:
        message += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    prefix = value.rpartition("/")[0]
    shown = [o for o in options if prefix and o.startswith(prefix + "/")] or list(options)
    where = f"{group} options under '{prefix}/'" if shown != list(options) else f"{group} options"
    listing = textwrap.fill(", ".join(shown), width=96, initial_indent="  ", subsequent_indent="  ")
    return f"{message}\nvalid {where} (conf/{group}/):\n{listing}"


def check_options(overrides: Sequence[str], conf_dir: Path = CONF_DIR) -> None:
    """Raise :class:`UnknownOption` for the first group option no file of ``conf_dir`` provides.

    Overrides Hydra cannot parse are left to Hydra, whose message names the problem.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException:
        return
    for override in parsed:
        if override.is_delete():
            continue
        options = group_options(override.key_or_group, conf_dir)
        if options is None:
            continue
        for value in _values(override):
            if value != "null" and value not in options:
                raise UnknownOption(unknown_option_message(override.key_or_group, value, options))


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The config ``topoexp <overrides>`` composes, with its ``hydra`` node (whose interpolations,
    ``${hydra:runtime.cwd}`` ..., resolve once :class:`HydraConfig` holds it)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="topoexp"):
            return compose("config", overrides=list(overrides), return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()


def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), node


def apply_debug(cfg: DictConfig) -> list[str]:
    """Apply the debug preset's ``debug.set`` to ``cfg`` (each key only where ``cfg`` has it).

    A preset (``conf/debug/<name>.yaml``) is composed before the ``+experiment`` file, which would
    win over it; applied here, after composition, it wins over every file. Returns the keys set.
    """
    debug = cfg.get("debug")
    if not debug or "set" not in debug:
        return []
    wanted = OmegaConf.to_container(debug.set, resolve=True)
    changed = []
    for key, value in _leaves(wanted):
        if OmegaConf.select(cfg, key, default=_MISSING) is not _MISSING:
            OmegaConf.update(cfg, key, value, merge=False)
            changed.append(key)
    return changed


def _job_config(cfg: DictConfig) -> DictConfig:
    """``cfg`` without its ``hydra`` node (what Hydra hands to the task function)."""
    job = copy.deepcopy(cfg)
    with open_dict(job):
        job.pop("hydra", None)
    return job


def _check(job: DictConfig) -> None:
    """Keys, types, values and bounds (no data, nothing built but the task)."""
    from topoexp.config.validate import validate

    validate(job)


def run_experiment(
    overrides: Sequence[str] = (), output_dir: str | Path | None = None
) -> dict[str, float]:
    """Run one job from Python, as ``topoexp <overrides>`` would, and return its flat metrics.

    ``overrides`` are the command line's (``["+experiment=spheres/topoae", "debug=smoke"]``).
    The run directory is ``output_dir``, or Hydra's ``outputs/<method>_<data>/<time>`` under the
    current folder; ``paths.root_dir`` is the current folder (``TOPOEXP_ROOT`` overrides it).
    Raises :class:`UnknownOption` or :class:`~topoexp.config.validate.ConfigError` for a bad config.
    """
    from hydra.core.hydra_config import HydraConfig

    check_options(overrides)
    cfg = compose_config(overrides)
    out = Path(output_dir if output_dir is not None else cfg.hydra.run.dir).resolve()
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(out)
    HydraConfig.instance().set_config(cfg)
    job = _job_config(cfg)
    apply_debug(job)
    from topoexp.run import run

    return run(job)


def _show_config(args: Any, overrides: list[str]) -> bool:
    """Validate for ``--cfg job|all``; print ``--cfg job`` here (with any debug preset applied).

    Returns whether the config was printed (otherwise Hydra prints it).
    """
    from hydra.core.hydra_config import HydraConfig

    cfg = compose_config(overrides)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(Path(cfg.hydra.run.dir).resolve())
    HydraConfig.instance().set_config(cfg)
    job = _job_config(cfg)
    apply_debug(job)
    _check(job)
    if args.cfg != "job" or args.package:
        return False
    print(OmegaConf.to_yaml(job, resolve=bool(args.resolve)), end="")
    return True


def _config_errors() -> tuple[type[BaseException], ...]:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from topoexp.config.validate import ConfigError

    return (UnknownOption, ConfigError, HydraException, OmegaConfBaseException)


def _fail(error: BaseException) -> None:
    text = str(error).split("\nConfig search path:")[0].strip()
    cause = error.__cause__
    if cause is not None and str(cause) and str(cause) not in text:  # Hydra's detail (the key)
        text += "\n" + "\n".join(line for line in str(cause).splitlines() if line.strip())
    print(f"topoexp: {text}", file=sys.stderr)
    if not isinstance(error, UnknownOption):
        print("(TOPOEXP_DEBUG=1 shows the traceback)", file=sys.stderr)
    sys.exit(2)


def main(argv: Sequence[str] | None = None) -> None:
    """The console command ``topoexp`` (and ``python -m topoexp``)."""
    from hydra._internal.utils import get_args_parser

    args_list = list(sys.argv[1:] if argv is None else argv)
    if "--help" in args_list or "-h" in args_list:
        from topoexp.cli_help import help_text

        print(help_text([a for a in args_list if not a.startswith("-")]))
        return
    args, _ = get_args_parser().parse_known_args(args_list)
    own_configs = not (args.config_path or args.config_name or args.config_dir)
    hydra_only = args.shell_completion or args.info is not None or args.hydra_help
    if hydra_only or "--version" in args_list:
        own_configs = False
    if own_configs:
        try:
            check_options(args.overrides)
            if args.cfg and _show_config(args, args.overrides):
                return
        except _config_errors() as error:
            if debugging():
                raise
            _fail(error)
    register_configs()
    from topoexp.__main__ import hydra_main

    sys.argv = [sys.argv[0], *args_list]
    hydra_main()
