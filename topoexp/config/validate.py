"""Checks that run before anything is built: keys, types, allowed values and bounds.

The allowed values live in the signatures of the classes a config names (``Literal[...]``,
``Annotated[float, Ge(0)]``); this module reads them (:mod:`topoexp.config.signatures`) and checks
every node with a ``_target_``, so a typo or a bad sweep point fails in milliseconds with its full
key named. Checks between components belong to the task that combines them (``Task.check``);
checks against the data's sizes run once the data are loaded, still before training.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from topoexp.config.markers import ArgumentError
from topoexp.config.schema import Config
from topoexp.config.signatures import Parameter, parameters

__all__ = ["ConfigError", "component_nodes", "from_argument_error", "require", "validate"]

_RESERVED = {"_target_", "_partial_", "_convert_", "_recursive_", "_args_"}


class ConfigError(ValueError):
    """An invalid configuration value; the message names the full key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"invalid config value for '{key}': {message}")
        self.key = key


def require(ok: bool, key: str, message: str) -> None:
    """Raise :class:`ConfigError` for ``key`` unless ``ok``."""
    if not ok:
        raise ConfigError(key, message)


def from_argument_error(error: ArgumentError, path: str) -> ConfigError:
    """The :class:`ConfigError` of a component built from the config node at ``path``."""
    return ConfigError(f"{path}.{error.argument}" if path else error.argument, error.detail)


def component_nodes(node: Any, path: str = "") -> Iterator[tuple[str, DictConfig]]:
    """Every ``(key path, node)`` below ``node`` that names a ``_target_``, parents first."""
    if isinstance(node, DictConfig):
        if "_target_" in node:
            yield path, node
        for key in node:
            child = node._get_node(key)  # no interpolation resolution needed to walk
            if isinstance(child, DictConfig | ListConfig):
                yield from component_nodes(node[key], f"{path}.{key}" if path else str(key))


def _check_value(p: Parameter, value: Any, key: str) -> None:
    if p.annotation is None:
        return
    from pydantic import TypeAdapter, ValidationError  # light, but only needed here

    if isinstance(value, DictConfig | ListConfig):
        value = OmegaConf.to_container(value, resolve=True)
    try:
        TypeAdapter(p.annotation).validate_python(value, strict=False)
    except ValidationError as error:
        detail = "; ".join(e["msg"] for e in error.errors())
        raise ConfigError(key, f"{detail} (got {value!r})") from None
    except Exception:  # an annotation pydantic cannot check: the constructor will
        return


def _check_component(path: str, node: DictConfig) -> None:
    target = node._target_
    try:
        params = {p.name: p for p in parameters(target)}
    except (ImportError, AttributeError, SyntaxError, ValueError) as error:
        raise ConfigError(f"{path}._target_", f"cannot locate {target!r}: {error}") from None
    known = {name for name, p in params.items() if not p.build_arg}
    for key in node:
        full = f"{path}.{key}"
        if key in _RESERVED:
            continue
        require(
            key in known,
            full,
            f"unknown key for {target}; known: {', '.join(sorted(known))}",
        )
        child = node._get_node(key)
        if isinstance(child, DictConfig) and "_target_" in child:
            continue  # a nested component, checked on its own
        if OmegaConf.is_missing(node, key):
            raise ConfigError(full, "no value given (???)")
        _check_value(params[key], node[key], full)


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` naming the first unknown key or invalid value of ``cfg``."""
    root = {f.name for f in fields(Config)}
    for key in cfg:
        require(key in root, str(key), f"unknown top-level key; known: {', '.join(sorted(root))}")
    for path, node in component_nodes(cfg):
        if path.startswith("hydra"):
            continue
        _check_component(path, node)
