"""How each kind of claim (:data:`topoexp.report.rules.KINDS`) is decided from a table's cells.

Every kind measures a *gap* in the claimed direction and its *noise* (two standard errors of the
compared values, ``margin`` where there is none; :mod:`topoexp.report.cells`): beyond the noise in
the claimed direction is reproduced, beyond it the other way not reproduced, within it (or with
fewer than ``min_seeds`` seeds) inconclusive. For an interval claim the gap is the distance of the
value inside its nearest bound (negative outside).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from topoexp.report.cells import Cell, combine, fetch, key_of, matches, noise, outcome, single
from topoexp.report.rules import ClaimRule

__all__ = ["Decided", "evaluate"]


@dataclass(frozen=True)
class Decided:
    outcome: str
    numbers: str
    cells: list[Cell] = field(default_factory=list)


def _few(rule: ClaimRule, cells: list[Cell]) -> bool:
    return any(c.n is not None and c.n < rule.min_seeds for c in cells)


def _beats(rule: ClaimRule, a: Cell, b: Cell) -> str:
    """reproduced | not reproduced | inconclusive for ``a`` beating ``b``."""
    if _few(rule, [a, b]):
        return "inconclusive"
    gap = (b.mean - a.mean) if rule.lower_is_better else (a.mean - b.mean)
    return outcome(gap, noise([a, b], rule.margin))


def _direction(rule: ClaimRule) -> str:
    return "claimed lower" if rule.lower_is_better else "claimed higher"


def _where(rule: ClaimRule) -> str:
    return f"claim {rule.id}, table {rule.table!r}"


def _compare(rule: ClaimRule, ours: pd.DataFrame) -> Decided:
    """best, better, no_worse: the row against each row of ``against``."""
    index = list(ours.index)
    key = single(index, rule.row, _where(rule))
    mine = fetch(ours, key, rule.metric, rule.noise)
    wanted = rule.against or [list(k) for k in index if k != key]
    if rule.kind == "better":
        wanted = wanted[:1]
    others = [fetch(ours, single(index, o, _where(rule)), rule.metric, rule.noise) for o in wanted]
    outcomes = [_beats(rule, mine, o) for o in others]
    if rule.kind == "no_worse" and not _few(rule, [mine, *others]):
        outcomes = ["reproduced" if o == "inconclusive" else o for o in outcomes]
    numbers = f"{rule.metric}, {_direction(rule)}: " + "; ".join(c.text() for c in [mine, *others])
    return Decided(combine(outcomes), numbers, [mine, *others])


def _bounds(rule: ClaimRule) -> str:
    low = "–" if rule.low is None else f"{rule.low:g}"
    high = "–" if rule.high is None else f"{rule.high:g}"
    return f"[{low}, {high}]"


def _inside(rule: ClaimRule, value: float, se: float | None, cells: list[Cell]) -> str:
    """The interval test of ``value`` (noise ``se``) against ``[low, high]``."""
    if _few(rule, cells):
        return "inconclusive"
    gaps = []
    if rule.low is not None:
        gaps.append(value - rule.low)
    if rule.high is not None:
        gaps.append(rule.high - value)
    width = max(2 * se if se is not None else 0.0, rule.margin)
    return outcome(min(gaps), width)


def _range(rule: ClaimRule, ours: pd.DataFrame) -> Decided:
    keys = matches(list(ours.index), rule.row)
    if not keys:
        raise KeyError(f"{_where(rule)}: no row {rule.row!r}")
    cells = [fetch(ours, k, rule.metric, rule.noise) for k in keys]
    outcomes = [_inside(rule, c.mean, c.se, [c]) for c in cells]
    numbers = f"{rule.metric}: " + "; ".join(c.text() for c in cells) + f" against {_bounds(rule)}"
    return Decided(combine(outcomes), numbers, cells)


def _operands(rule: ClaimRule, ours: pd.DataFrame) -> list[tuple[Cell, Cell]]:
    """(numerator, denominator) cells: the row against ``against[0]``, or every selected row's
    ``metric`` against its ``against_metric``."""
    index = list(ours.index)
    other = rule.against_metric or rule.metric
    if rule.against:
        a = fetch(ours, single(index, rule.row, _where(rule)), rule.metric, rule.noise)
        b = fetch(ours, single(index, rule.against[0], _where(rule)), other, rule.noise)
        return [(a, b)]
    keys = matches(index, rule.row)
    if not keys:
        raise KeyError(f"{_where(rule)}: no row {rule.row!r}")
    return [
        (fetch(ours, k, rule.metric, rule.noise), fetch(ours, k, other, rule.noise)) for k in keys
    ]


def _relation(rule: ClaimRule, ours: pd.DataFrame) -> Decided:
    """ratio, difference: the geometric mean of per-row ratios (mean of differences)."""
    pairs = _operands(rule, ours)
    cells = [c for pair in pairs for c in pair]
    se = None
    if rule.kind == "ratio":
        values = np.array([a.mean / b.mean for a, b in pairs])
        value = float(np.exp(np.log(values).mean())) if np.all(values > 0) else np.nan
        if len(pairs) == 1 and all(c.se is not None for c in cells):
            ((a, b),) = pairs
            se = abs(value) * math.hypot(a.se / a.mean, b.se / b.mean)  # type: ignore[operator]
        symbol = "/"
    else:
        value = float(np.mean([a.mean - b.mean for a, b in pairs]))
        if len(pairs) == 1 and all(c.se is not None for c in cells):
            se = math.hypot(*(c.se for c in cells))  # type: ignore[misc]
        symbol = "−"
    verdict = _inside(rule, value, se, cells) if np.isfinite(value) else "inconclusive"
    other = rule.against_metric or rule.metric
    if len(pairs) == 1:
        a, b = pairs[0]
        what = f"{a.text()} {symbol} {b.text()}" if a.label != b.label else ""
        what = what or f"{a.label}: {rule.metric} {a.mean:.4g} {symbol} {other} {b.mean:.4g}"
        spread = f" ± {se:.3g}" if se is not None else ""
        numbers = f"{what} = {value:.4g}{spread}"
    else:
        mean = "geometric mean" if rule.kind == "ratio" else "mean"
        rows = ", ".join(str(v) for v in key_of(rule.row))
        numbers = (
            f"{rule.metric} {symbol} {other}, {mean} over the {len(pairs)} rows of {rows}: "
            f"{value:.4g}"
        )
    return Decided(verdict, f"{numbers} against {_bounds(rule)}", cells)


def _monotone(rule: ClaimRule, ours: pd.DataFrame) -> Decided:
    index = list(ours.index)
    if len(rule.metrics) >= 2:
        key = single(index, rule.row, _where(rule))
        cells = [fetch(ours, key, m, rule.noise) for m in rule.metrics]
        labels = rule.metrics
    else:
        keys = [single(index, r, _where(rule)) for r in [rule.row, *rule.against]]
        cells = [fetch(ours, k, rule.metric, rule.noise) for k in keys]
        labels = [c.label for c in cells]
    steps = [_beats(rule, b, a) for a, b in itertools.pairwise(cells)]
    sign = " > " if rule.lower_is_better else " < "
    numbers = sign.join(f"{lab}: {c.mean:.4g}" for lab, c in zip(labels, cells, strict=True))
    head = rule.metric or ", ".join(str(v) for v in key_of(rule.row))
    falls = "falls" if rule.lower_is_better else "grows"
    bad = sum(s != "reproduced" for s in steps)
    return Decided(
        combine(steps),
        f"{head} {falls} at {len(steps) - bad} of {len(steps)} steps: {numbers}",
        cells,
    )


def _wins(rule: ClaimRule, ours: pd.DataFrame) -> Decided:
    keys = matches(list(ours.index), rule.row)
    if not keys:
        raise KeyError(f"{_where(rule)}: no row {rule.row!r}")
    pick = min if rule.lower_is_better else max
    misses, cells = [], []
    for key in keys:
        mine = [fetch(ours, key, m, rule.noise) for m in rule.metrics]
        rivals = [fetch(ours, key, m, rule.noise) for m in rule.against_metrics]
        a = pick(mine, key=lambda c: c.mean)
        b = pick(rivals, key=lambda c: c.mean)
        cells += [a, b]
        if _beats(rule, a, b) != "reproduced":
            misses.append(a.label)
    verdict = "reproduced" if len(misses) <= rule.max_misses else "not reproduced"
    group = " or ".join(rule.metrics)
    text = (
        f"best of {group} ({_direction(rule)}) beats best of "
        f"{', '.join(rule.against_metrics)} at {len(keys) - len(misses)} of {len(keys)} rows"
        f" (at most {rule.max_misses} may miss)"
    )
    if misses:
        text += f"; misses: {'; '.join(misses)}"
    return Decided(verdict, text, cells)


_KINDS: dict[str, Callable[[ClaimRule, pd.DataFrame], Decided]] = {
    "best": _compare,
    "better": _compare,
    "no_worse": _compare,
    "range": _range,
    "ratio": _relation,
    "difference": _relation,
    "monotone": _monotone,
    "wins": _wins,
}


def _metrics(rule: ClaimRule) -> list[str]:
    named = [rule.metric, rule.against_metric, *rule.metrics, *rule.against_metrics]
    return [m for m in named if m]


def evaluate(rule: ClaimRule, ours: pd.DataFrame | None) -> Decided:
    """One part of a rule decided on the rows of its table."""
    if ours is None:
        raise KeyError(f"{_where(rule)}: no such table")
    for metric in _metrics(rule):
        if f"{metric}_mean" not in ours:
            raise KeyError(f"{_where(rule)}: the table has no metric {metric!r}")
    return _KINDS[rule.kind](rule, ours)
