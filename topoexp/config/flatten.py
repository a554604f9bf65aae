"""Nested configs as flat ``{"a.b.c": value}`` dicts, for comparing two of them key by key."""

from __future__ import annotations

from typing import Any

__all__ = ["differences", "flatten"]


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"trainer.lr": 0.001, ...}`` for a nested dict (lists are values)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: node}


def differences(old: dict, new: dict) -> dict[str, tuple[Any, Any]]:
    """``{key: (old value, new value)}`` for every leaf that differs (a missing one is None)."""
    a, b = flatten(old), flatten(new)
    return {k: (a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}
