"""Tables beside a paper: aggregate runs over seeds, compare each cell with the paper's value.

One machinery for every table of every paper (:mod:`topoexp.report.page` builds each spec table
with it from the run records; :mod:`topoexp.report.writer` writes it):

- :func:`aggregate`: one row per key (e.g. ``method``), the mean, the population std (ddof = 0,
  as the original tables) and the number of runs of every metric;
- :func:`compare`: the long table ``row, metric, ours_mean, ours_std, n, paper, paper_std,
  rel_dev, within, tolerance, tolerance_source``, ``within`` decided by a
  :class:`~topoexp.report.tolerance.Tolerance` (its half-width and source per cell); a cell
  without a paper value has ``within`` = ``None`` (shown, not compared).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from topoexp.report.tolerance import Tolerance

__all__ = ["Tolerance", "aggregate", "compare", "fmt", "row_label"]


def fmt(value: float | None) -> str:
    """A number as the tables print it: 3 significant digits from 1 on, else 4–5 decimals."""
    if value is None or not np.isfinite(value):
        return "–"
    if abs(value) >= 1:
        return f"{value:.3g}"
    return f"{value:.4f}" if abs(value) >= 0.01 else f"{value:.5f}"


def row_label(key: tuple, labels: Mapping[str, str] | None = None) -> str:
    """``('mnist', 'ae_reg', 5)`` → ``mnist, AE + Reg, 5`` with ``labels`` applied per value."""
    labels = labels or {}
    return ", ".join(labels.get(str(v), str(v)) for v in key)


def _ordered(index: list[tuple], order: Sequence[str]) -> list[tuple]:
    """Rows whose first key is in ``order`` first, in that order; the others as found."""
    rank = {str(v): i for i, v in enumerate(order)}
    return sorted(index, key=lambda k: rank.get(str(k[0]), len(rank)))


def aggregate(
    runs: pd.DataFrame,
    keys: Sequence[str],
    metrics: Sequence[str],
    order: Sequence[str] = (),
) -> pd.DataFrame:
    """Mean, population std (ddof = 0) and run count per ``keys`` for every metric present.

    Index: tuples of the key values (in order of first appearance, then ``order`` for the first
    key); columns ``<metric>_mean``, ``<metric>_std`` and ``n``.
    """
    missing = [k for k in keys if k not in runs]
    if missing:
        raise KeyError(f"row keys {missing} are not columns of the runs ({list(runs.columns)})")
    present = [m for m in metrics if m in runs]
    grouped = runs.groupby(list(keys), sort=False, dropna=False)
    mean = grouped[present].mean().add_suffix("_mean")
    std = (
        grouped[present]
        .agg(lambda s: float(np.std(s.dropna(), ddof=0)) if s.notna().any() else np.nan)
        .add_suffix("_std")
    )
    n = grouped.size().rename("n")
    table = pd.concat([mean, std, n], axis=1)
    table.index = [k if isinstance(k, tuple) else (k,) for k in table.index]
    return table.loc[_ordered(list(table.index), order)]


def compare(
    table: pd.DataFrame,
    reference: pd.DataFrame | None,
    keys: Sequence[str],
    metrics: Sequence[str],
    tolerance: Tolerance,
    reference_keys: Mapping[str, str] | None = None,
    reference_columns: Mapping[str, str] | None = None,
    std_suffix: str = "_std",
    ddof: int = 0,
) -> pd.DataFrame:
    """Long table of every (row, metric) cell of ``table`` beside the paper's value.

    ``reference``: the paper's table, already filtered to this table's setting (data set ...);
    ``reference_keys`` maps our key columns to its columns, ``reference_columns`` our metric keys
    to its columns (both default to the same name). ``table`` has ``<metric>_mean``,
    ``<metric>_std`` and ``n`` (missing std / n: a single value), its std with ``ddof``.
    """
    ref_keys = [dict(reference_keys or {}).get(k, k) for k in keys]
    columns = dict(reference_columns or {})
    lookup: dict[tuple, pd.Series] = {}
    if reference is not None and len(reference):
        absent = [k for k in ref_keys if k not in reference]
        if absent:
            raise KeyError(f"reference has no column {absent} (columns: {list(reference.columns)})")
        for _, ref_row in reference.iterrows():
            lookup[tuple(str(ref_row[k]) for k in ref_keys)] = ref_row
    rows = []
    for key in table.index:
        ref_row = lookup.get(tuple(str(v) for v in key))
        for metric in metrics:
            if f"{metric}_mean" not in table:
                continue
            ours = float(table.loc[[key], f"{metric}_mean"].iloc[0])
            std_col = f"{metric}_std"
            ours_std = float(table.loc[[key], std_col].iloc[0]) if std_col in table else np.nan
            col = columns.get(metric, metric)
            paper = _number(ref_row, col)
            paper_std = _number(ref_row, col + std_suffix)
            rel = (ours - paper) / abs(paper) if np.isfinite(paper) and paper != 0 else np.nan
            n = _count(table, key)
            width, source = tolerance.width(paper, paper_std, ours_std, n, ddof)
            if not (np.isfinite(ours) and np.isfinite(paper)) or width is None:
                width, source = np.nan, ""
            rows.append(
                {
                    "row": key,
                    "metric": metric,
                    "ours_mean": ours,
                    "ours_std": ours_std,
                    "n": n,
                    "paper": paper,
                    "paper_std": paper_std,
                    "rel_dev": rel if np.isfinite(ours) else np.nan,
                    "within": tolerance.within(ours, paper, paper_std, ours_std, n, ddof),
                    "tolerance": width,
                    "tolerance_source": source,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "row",
            "metric",
            "ours_mean",
            "ours_std",
            "n",
            "paper",
            "paper_std",
            "rel_dev",
            "within",
            "tolerance",
            "tolerance_source",
        ],
    )


def _count(table: pd.DataFrame, key: tuple) -> int | None:
    """Runs behind a row (None for a table of single values)."""
    if "n" not in table:
        return None
    n = table.loc[[key], "n"].iloc[0]
    return int(n) if pd.notna(n) else None


def _number(row: pd.Series | None, column: str) -> float:
    if row is None or column not in row.index:
        return np.nan
    try:
        return float(row[column])
    except (TypeError, ValueError):
        return np.nan
