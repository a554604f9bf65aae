"""Structured-config schemas, generated from the signatures of the classes a config names.

Each option of a component group (``conf/model/mlp.yaml`` ...) starts its defaults list with the
schema of the class it builds, ``- /topoexp.models.autoencoders.MLPAutoencoder@_here_``. That
schema is generated here from the class's constructor (:mod:`topoexp.config.signatures`): one
field per parameter, typed by its annotation, with its default. So every allowed key and type is
declared once, by the class, and Hydra rejects an unknown key or a value of the wrong type at
composition, naming the key. Allowed values (``Literal``) and bounds (``Annotated[int, Ge(1)]``)
are checked before anything is built (:func:`topoexp.config.validate.validate`).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from omegaconf import MISSING

from topoexp.config.location import conf_dir
from topoexp.config.signatures import parameters

__all__ = ["CONF_DIR", "Config", "PathsConf", "config_targets", "register_configs", "schema_for"]

CONF_DIR = conf_dir()  # the checkout's conf/, else the one packaged with the wheel
_SCHEMA_ENTRY = re.compile(r"^\s*-\s*/([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+)@", re.MULTILINE)


@dataclass
class Config:
    """The root config. ``method`` is the row label used in tables and W&B."""

    task: Any = MISSING
    dataset: Any = MISSING
    model: Any = MISSING
    loss: Any = field(default_factory=dict)
    trainer: Any = MISSING
    evaluator: Any = MISSING
    evaluators: Any = field(default_factory=dict)
    logger: Any = MISSING
    paths: Any = MISSING
    method: str = MISSING
    paper: str = "topoae"
    seed: int = 249040430
    objective: str = "kl_0.1"
    failure_score: float = 20.0
    debug: Any = None  # a debug preset (conf/debug/): its `set` applies after the experiment


@dataclass
class PathsConf:
    """Where the repository, the data, this run's directory and the results are."""

    root_dir: str = MISSING
    data_dir: str = MISSING
    output_dir: str = MISSING
    results_dir: str = MISSING


def _field_type(annotation: Any) -> Any:
    """The OmegaConf-supported type of an annotation (Any when OmegaConf has none)."""
    if annotation is None:
        return Any
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _field_type(args[0])
    if origin is Literal:
        kinds = {type(a) for a in args}
        return kinds.pop() if len(kinds) == 1 and kinds <= {str, int, bool} else Any
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        inner = _field_type(rest[0]) if len(rest) == 1 else Any
        return Any if inner is Any else Optional[inner]  # noqa: UP045 (OmegaConf needs Optional)
    if origin in (list, tuple, Sequence):
        items = [a for a in args if a is not Ellipsis]
        item = _field_type(items[0]) if len(set(items)) == 1 else Any
        return list[item] if item in (int, float, str, bool) else list[Any]
    if annotation in (int, float, str, bool):
        return annotation
    return Any


def _default(value: Any) -> Any:
    if isinstance(value, list | tuple | dict):
        copy = list(value) if isinstance(value, tuple) else value
        return field(default_factory=lambda: copy.copy())
    return field(default=value)


def schema_for(target: str) -> type:
    """A dataclass with ``_target_`` and one field per config parameter of ``target``."""
    fields: list[tuple[str, Any, Any]] = [("_target_", str, field(default=target))]
    for p in parameters(target):
        if p.build_arg:
            continue
        default = field(default=MISSING) if p.required else _default(p.default)
        fields.append((p.name, _field_type(p.annotation), default))
    return make_dataclass(target.rpartition(".")[2] + "Schema", fields)


def config_targets(conf_dir: Path = CONF_DIR) -> list[str]:
    """Every class whose schema a file under ``conf_dir`` names in its defaults list."""
    found: set[str] = set()
    for path in conf_dir.rglob("*.yaml"):
        found.update(_SCHEMA_ENTRY.findall(path.read_text()))
    return sorted(found)


def register_configs(conf_dir: Path = CONF_DIR) -> None:
    """Register the root schema and each named class's schema (under its dotted path)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="topoexp_schema", node=Config)
    cs.store(name="topoexp_paths_schema", node=PathsConf)
    for target in config_targets(conf_dir):
        cs.store(name=target, node=schema_for(target))
