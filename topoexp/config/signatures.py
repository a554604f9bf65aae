"""Constructor signatures of config targets, read from their source without importing them.

A component's signature is its schema: the parameter names are the config keys, the annotations
their types and allowed values (``Literal[...]``, ``Annotated[int, Ge(1)]``), the defaults the
defaults. Reading the source with :mod:`ast` keeps ``python -m topoexp --help`` free of torch and
scikit-learn (2 s instead of 12 s). Targets outside this package, or whose signature needs names
this module cannot evaluate, are imported and inspected instead.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import annotated_types

from topoexp.config.markers import BUILD_ARG

__all__ = ["Parameter", "parameters"]

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REQUIRED = inspect.Parameter.empty

_NAMESPACE: dict[str, Any] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "list": list,
    "tuple": tuple,
    "dict": dict,
    "None": None,
    "Any": Any,
    "Literal": Literal,
    "Annotated": Annotated,
    "Optional": Optional,
    "Sequence": Sequence,
    "BUILD_ARG": BUILD_ARG,
    **{name: getattr(annotated_types, name) for name in annotated_types.__all__},
}


@dataclass(frozen=True)
class Parameter:
    """One constructor parameter: ``annotation`` is ``None`` when it could not be evaluated."""

    name: str
    annotation: Any
    default: Any  # REQUIRED when the parameter has no default
    build_arg: bool  # supplied by the task at build time, not a config key

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@functools.cache
def parameters(target: str) -> tuple[Parameter, ...]:
    """The keyword parameters of ``target`` (``module.Class`` or ``module.function``)."""
    module, _, name = target.rpartition(".")
    path = _source_file(module)
    if path is not None:
        found = _from_source(path, name)
        if found is not None:
            return found
    return _from_import(target)


def _source_file(module: str) -> Path | None:
    """The file of a ``topoexp`` module, located without importing it (or its package)."""
    parts = module.split(".")
    if parts[0] != PACKAGE_DIR.name:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def _aliases_of(module: str) -> dict[str, Any]:
    """The evaluable type aliases of a ``topoexp`` module (empty for any other module)."""
    path = _source_file(module)
    if path is None:
        return {}
    return _module_aliases(ast.parse(path.read_text(), filename=str(path)))


def _module_aliases(tree: ast.Module) -> dict[str, Any]:
    """Module-level type aliases (``Seed = Annotated[int, BUILD_ARG]``) that can be evaluated,
    also those imported from another ``topoexp`` module."""
    namespace = dict(_NAMESPACE)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported = _aliases_of(node.module)
            for alias in node.names:
                if alias.name in imported:
                    namespace[alias.asname or alias.name] = imported[alias.name]
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                namespace[target.id] = eval(
                    ast.unparse(value), {"__builtins__": {}}, dict(namespace)
                )
            except Exception:
                continue
    return namespace


def _from_source(path: Path, name: str) -> tuple[Parameter, ...] | None:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef)}
    node = nodes.get(name)
    namespace = _module_aliases(tree)
    if isinstance(node, ast.ClassDef):
        init = next(
            (n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
        )
        if init is None:
            return None  # inherited constructor: inspect the imported class
        return _read_arguments(init.args, skip_first=True, namespace=namespace)
    if isinstance(node, ast.FunctionDef):
        return _read_arguments(node.args, skip_first=False, namespace=namespace)
    return None


def _has_build_arg(annotation: Any) -> bool:
    return typing.get_origin(annotation) is Annotated and any(
        m is BUILD_ARG for m in typing.get_args(annotation)[1:]
    )


def _read_arguments(
    args: ast.arguments, skip_first: bool, namespace: dict[str, Any]
) -> tuple[Parameter, ...] | None:
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    pairs = list(zip(positional, [*defaults, *args.defaults], strict=True))
    pairs += list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
    if skip_first:
        pairs = pairs[1:]
    out = []
    for arg, default in pairs:
        annotation = _evaluate(arg.annotation, namespace)
        build_arg = _is_build_arg(arg.annotation) or _has_build_arg(annotation)
        try:
            value = REQUIRED if default is None else ast.literal_eval(default)
        except ValueError:
            return None  # a non-literal default: inspect the imported target
        out.append(Parameter(arg.arg, annotation, value, build_arg))
    return tuple(out)


def _is_build_arg(node: ast.expr | None) -> bool:
    """``Annotated[..., BUILD_ARG]`` in the source (the wrapped type need not be evaluable)."""
    if not (isinstance(node, ast.Subscript) and ast.unparse(node.value) == "Annotated"):
        return False
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    return any(ast.unparse(item) == "BUILD_ARG" for item in items[1:])


def _evaluate(node: ast.expr | None, namespace: dict[str, Any]) -> Any:
    if node is None:
        return None
    text = node.value if isinstance(node, ast.Constant) else ast.unparse(node)
    try:
        return eval(text, {"__builtins__": {}}, dict(namespace))
    except Exception:
        return None


def _from_import(target: str) -> tuple[Parameter, ...]:
    module, _, name = target.rpartition(".")
    obj = getattr(importlib.import_module(module), name)
    function = obj.__init__ if inspect.isclass(obj) else obj
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception:
        hints = {}
    out = []
    for p in inspect.signature(obj).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        hint = hints.get(p.name)
        out.append(Parameter(p.name, hint, p.default, _has_build_arg(hint)))
    return tuple(out)
