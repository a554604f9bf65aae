"""Build a component from its config node with ``hydra.utils.instantiate``.

Nested components (a node with its own ``_target_``) are built first, each under its own key, so a
constructor's :class:`~topoexp.config.markers.ArgumentError` is reported as a
:class:`~topoexp.config.validate.ConfigError` naming the full key (``loss.signature.match_edges``).
Build-time arguments (data shape, wrapped model, seed) are passed to the targets that declare
them (``Annotated[..., BUILD_ARG]``) and silently skipped by those that do not.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from topoexp.config.markers import ArgumentError
from topoexp.config.signatures import parameters
from topoexp.config.validate import ConfigError, from_argument_error

__all__ = ["build", "build_node"]


def build(cfg: DictConfig, key: str, /, **build_args: Any) -> Any:
    """The component at ``key`` of ``cfg`` (e.g. ``"model"``, ``"evaluator"``)."""
    node = OmegaConf.select(cfg, key, throw_on_missing=True)
    if not isinstance(node, DictConfig) or "_target_" not in node:
        raise ConfigError(key, "expected a component with a _target_")
    return build_node(node, key, **build_args)


def build_node(node: DictConfig, path: str, /, **build_args: Any) -> Any:
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    accepted = {p.name for p in parameters(node._target_)}
    kwargs = {name: value for name, value in build_args.items() if name in accepted}
    plain = OmegaConf.to_container(node, resolve=True)  # no schema types left to merge into
    assert isinstance(plain, dict)
    for key in node:
        child = node._get_node(key)
        if isinstance(child, DictConfig) and "_target_" in child:
            kwargs[str(key)] = build_node(node[key], f"{path}.{key}")
            del plain[str(key)]
    try:
        return instantiate(plain, _recursive_=False, _convert_="all", **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, ArgumentError):
            raise from_argument_error(cause, path) from cause
        if isinstance(cause, Exception):  # the component's own error, not Hydra's wrapper
            raise cause.with_traceback(cause.__traceback__) from None
        raise
