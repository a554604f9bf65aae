"""The numbers a rule reads: one cell (mean, noise, seeds) of a report table, and the test of a
difference against its noise.

A table's rows are indexed by key tuples; its columns are ``<metric>_mean``, ``<metric>_std`` and
``n`` (seeds; absent or NaN for a single value). The std is the population std (ddof 0) unless the
frame's ``attrs["std_ddof"]`` says 1. A cell's noise is the standard error of its mean over the
seeds (``se = std / sqrt(n - ddof')``, ``ddof' = 1 - ddof``), or, for a rule with ``noise: std``,
the std itself (the spread of repeated computations of one value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from topoexp.report.rules import Key

__all__ = ["Cell", "combine", "fetch", "matches", "noise", "outcome", "single"]


@dataclass(frozen=True)
class Cell:
    label: str
    mean: float
    se: float | None  # None: no noise known (fewer than two seeds, no std)
    n: int | None  # None: a single value (no seeds)
    spread: str = "se"  # what ``se`` is: the standard error over seeds, or the value's std

    def text(self, digits: int = 4) -> str:
        spread = f" ± {self.se:.3g} ({self.spread})" if self.se is not None else ""
        seeds = f", {self.n} seed{'s' if self.n != 1 else ''}" if self.n is not None else ""
        return f"{self.label} {self.mean:.{digits}g}{spread}{seeds}"


def _same(a: object, b: object) -> bool:
    if str(a) == str(b):
        return True
    try:
        return float(a) == float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def key_of(row: Key) -> tuple:
    return tuple(row) if isinstance(row, list) else (row,)


def matches(index: list[tuple], row: Key) -> list[tuple]:
    """Every row of ``index`` whose key starts with ``row``."""
    want = key_of(row)
    return [k for k in index if len(k) >= len(want) and all(map(_same, k, want))]


def single(index: list[tuple], row: Key, where: str) -> tuple:
    hits = matches(index, row)
    if len(hits) != 1:
        raise KeyError(f"{where}: no single row {row!r} ({len(hits)} match)")
    return hits[0]


def fetch(ours: pd.DataFrame, key: tuple, metric: str, noise: str = "se") -> Cell:
    """The cell of row ``key`` and ``metric``."""
    row = ours.loc[[key]].iloc[0]
    mean = float(row[f"{metric}_mean"])
    std = float(row.get(f"{metric}_std", np.nan))
    n = row.get("n")
    n = int(n) if n is not None and pd.notna(n) else None
    se = None
    if noise == "std":
        se = std if np.isfinite(std) else None
    elif n is not None and n >= 2 and np.isfinite(std):
        se = std / math.sqrt(n - 1 + int(ours.attrs.get("std_ddof", 0)))
    return Cell(", ".join(str(v) for v in key), mean, se, n, "std" if noise == "std" else "se")


def noise(cells: list[Cell], margin: float) -> float:
    """Two standard errors of a difference of ``cells``, at least ``margin``."""
    ses = [c.se for c in cells if c.se is not None]
    return max(2 * math.sqrt(sum(s * s for s in ses)) if ses else 0.0, margin)


def outcome(gap: float, width: float) -> str:
    """A ``gap`` in the claimed direction (positive) beyond ``width``: reproduced."""
    if not np.isfinite(gap):
        return "inconclusive"
    if gap > width:
        return "reproduced"
    if gap < -width:
        return "not reproduced"
    return "inconclusive"


def combine(outcomes: list[str]) -> str:
    """All parts reproduced: reproduced; any not reproduced: not reproduced; else inconclusive."""
    if "not reproduced" in outcomes:
        return "not reproduced"
    if outcomes and all(o == "reproduced" for o in outcomes):
        return "reproduced"
    return "inconclusive"
