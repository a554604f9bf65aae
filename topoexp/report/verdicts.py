"""Claims as rules: each claim of a paper is a rule of its report spec, decided here from the
rows of one of the spec's tables (mean, population std and number of seeds per row).

A rule (``claims:`` in ``conf/report/<paper>.yaml``)::

    - id: topoae-lowest-kl01-spheres
      claim: "SPHERES: TopoAE has the lowest KL_0.1 of all methods"
      kind: best            # best (row beats every other of `against`) | better (row beats
                            # `against[0]`) | range (row's mean in [low, high]) | not_run
      table: topoae_spheres # a table id of the same spec
      metric: kl_0.1
      row: topoae           # the first key's value, or the whole key as a list
      against: []           # rows compared with (default: every other row of the table)
      lower_is_better: true
      min_seeds: 2          # fewer seeds on either side: inconclusive
      margin: 0.0           # smallest difference that counts where there are no seeds
      protocol: {seeds: 5, epochs: 100}   # the paper's budget; ours: `epochs` below, seeds = n
      epochs: 100
      reason: ""            # not_run: why
      results: results/mnist   # the results directory it belongs to (default: the spec's first)

Categories (:data:`CATEGORIES`): a difference beyond two standard errors of the difference
(``se = std / sqrt(n - 1)`` from the population std of each side; ``margin`` where there are no
seeds) in the claimed direction is *reproduced*, or *reproduced at a reduced budget* when the
seeds or epochs are fewer than the protocol's; beyond two standard errors the other way, *not
reproduced*; within them, or with fewer than ``min_seeds`` seeds, *inconclusive*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from annotated_types import Ge
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CATEGORIES", "Budget", "ClaimRule", "Verdict", "decide"]

CATEGORIES: tuple[str, ...] = (
    "reproduced",
    "reproduced at a reduced budget",
    "inconclusive",
    "not reproduced",
    "not run",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budget(_Strict):
    seeds: Annotated[int, Ge(1)] = 5
    epochs: Annotated[float, Ge(0)] | None = None


class ClaimRule(_Strict):
    id: str
    claim: str
    kind: Literal["best", "better", "range", "not_run"]
    table: str = ""
    metric: str = ""
    row: str | list[str] = ""
    against: list[str | list[str]] = Field(default_factory=list)
    lower_is_better: bool = True
    low: float | None = None
    high: float | None = None
    min_seeds: Annotated[int, Ge(1)] = 2
    margin: Annotated[float, Ge(0)] = 0.0
    protocol: Budget = Budget()
    epochs: float | None = None
    reason: str = ""
    results: str = ""  # the spec's results directory the claim belongs to (default: the first)


@dataclass(frozen=True)
class Verdict:
    """A decided claim: the shape :mod:`topoexp.report.render` prints."""

    id: str
    claim: str
    verdict: str
    numbers: str
    budget_share: float | None  # our runs × epochs over the protocol's (None: not run)
    readme_verdict: str = ""
    section: str = "Claims"


def _key(row: str | list[str]) -> tuple[str, ...]:
    return (row,) if isinstance(row, str) else tuple(str(v) for v in row)


def _match(index: list[tuple], want: tuple[str, ...]) -> tuple | None:
    hits = [k for k in index if tuple(str(v) for v in k[: len(want)]) == want]
    return hits[0] if len(hits) == 1 else None


@dataclass(frozen=True)
class _Cell:
    label: str
    mean: float
    se: float | None  # None: fewer than two seeds
    n: int | None  # None: a single value (no seeds)


def _cell(ours: pd.DataFrame, key: tuple, metric: str) -> _Cell:
    row = ours.loc[[key]].iloc[0]
    mean = float(row[f"{metric}_mean"])
    std = float(row.get(f"{metric}_std", np.nan))
    n = row.get("n")
    n = int(n) if n is not None and pd.notna(n) else None
    se = std / math.sqrt(n - 1) if n is not None and n >= 2 and np.isfinite(std) else None
    return _Cell(", ".join(str(v) for v in key), mean, se, n)


def _fmt(c: _Cell) -> str:
    spread = f" ± {c.se:.3g} (se)" if c.se is not None else ""
    seeds = f", {c.n} seed{'s' if c.n != 1 else ''}" if c.n is not None else ""
    return f"{c.label} {c.mean:.4g}{spread}{seeds}"


def _pair(rule: ClaimRule, a: _Cell, b: _Cell) -> str:
    """reproduced | not reproduced | inconclusive for ``a`` beating ``b``."""
    few = [c for c in (a, b) if c.n is not None and c.n < rule.min_seeds]
    if few:
        return "inconclusive"
    gap = (b.mean - a.mean) if rule.lower_is_better else (a.mean - b.mean)
    ses = [c.se for c in (a, b) if c.se is not None]
    noise = max(2 * math.sqrt(sum(s * s for s in ses)) if ses else 0.0, rule.margin)
    if gap > noise:
        return "reproduced"
    if gap < -noise:
        return "not reproduced"
    return "inconclusive"


def _share(rule: ClaimRule, cells: list[_Cell]) -> tuple[float, str]:
    seeds = min((c.n for c in cells if c.n is not None), default=None)
    share = 1.0
    parts = []
    if seeds is not None:
        share *= min(seeds / rule.protocol.seeds, 1.0)
        parts.append(f"{seeds} of {rule.protocol.seeds} seeds")
    if rule.protocol.epochs and rule.epochs is not None:
        share *= min(rule.epochs / rule.protocol.epochs, 1.0)
        parts.append(f"{rule.epochs:g} of {rule.protocol.epochs:g} epochs")
    return share, ", ".join(parts)


def decide(rule: ClaimRule, ours: pd.DataFrame | None) -> Verdict:
    """The verdict of ``rule`` on a table's rows (``<metric>_mean``/``_std``, ``n``)."""
    if rule.kind == "not_run":
        return Verdict(rule.id, rule.claim, "not run", rule.reason or "not run", None)
    if ours is None or f"{rule.metric}_mean" not in ours:
        raise KeyError(f"claim {rule.id}: table {rule.table!r} has no metric {rule.metric!r}")
    index = list(ours.index)
    key = _match(index, _key(rule.row))
    if key is None:
        raise KeyError(f"claim {rule.id}: no single row {rule.row!r} in table {rule.table!r}")
    mine = _cell(ours, key, rule.metric)
    if rule.kind == "range":
        inside = (rule.low is None or mine.mean >= rule.low) and (
            rule.high is None or mine.mean <= rule.high
        )
        outcome = "reproduced" if inside else "not reproduced"
        others: list[_Cell] = []
        numbers = f"{_fmt(mine)} against [{rule.low}, {rule.high}]"
    else:
        wanted = rule.against or [list(k) for k in index if k != key]
        if rule.kind == "better":
            wanted = wanted[:1]
        others = []
        for other in wanted:
            found = _match(index, _key(other))
            if found is None:
                raise KeyError(f"claim {rule.id}: no single row {other!r} in {rule.table!r}")
            others.append(_cell(ours, found, rule.metric))
        outcomes = [_pair(rule, mine, o) for o in others]
        if "not reproduced" in outcomes:
            outcome = "not reproduced"
        elif all(o == "reproduced" for o in outcomes):
            outcome = "reproduced"
        else:
            outcome = "inconclusive"
        direction = "lower" if rule.lower_is_better else "higher"
        numbers = f"{rule.metric} ({direction} is better): " + "; ".join(
            _fmt(c) for c in [mine, *others]
        )
    share, budget = _share(rule, [mine, *others])
    if outcome == "reproduced" and share < 1.0:
        outcome = "reproduced at a reduced budget"
    if budget:
        numbers += f" [budget: {budget}]"
    return Verdict(rule.id, rule.claim, outcome, numbers, share)
