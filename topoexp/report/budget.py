"""The share of a protocol's budget a results directory's numbers were made with.

Per row of the directory's tables (those whose source lies in it): ``min(n / seeds, 1) ·
min(epochs / protocol epochs, 1)``, with ``n`` the row's seeds (runs), or the directory's
``seeds`` where the table counts none, and ``epochs`` the table's, else the directory's; the
share is the mean over the rows. The protocol and our budget are the spec's (``protocol``,
``seeds``, ``epochs`` of a ``results`` entry, ``epochs`` of a table); the seeds come from the run
records the tables aggregate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from topoexp.report.page import BuiltTable
    from topoexp.report.spec import ResultsSpec

__all__ = ["PartBudget", "part_budget"]


@dataclass(frozen=True)
class PartBudget:
    share: float
    text: str


def _inside(source: str, path: str, others: Sequence[str]) -> bool:
    """``source`` lies in ``path`` and in no deeper results directory of ``others``."""
    if not source.startswith(path.rstrip("/") + "/"):
        return False
    deeper = [o for o in others if o != path and o.startswith(path.rstrip("/") + "/")]
    return not any(source.startswith(o.rstrip("/") + "/") for o in deeper)


def part_budget(
    results: ResultsSpec, built: Sequence[BuiltTable], paths: Sequence[str]
) -> PartBudget | None:
    """The budget share of one results directory (None: its spec states no protocol)."""
    protocol = results.protocol
    if protocol is None:
        return None
    seeds_shares, epoch_shares = [], []
    for table in built:
        if not _inside(table.spec.source, results.path, paths) or table.ours is None:
            continue
        epochs = table.spec.epochs if table.spec.epochs is not None else results.epochs
        e_share = 1.0
        if protocol.epochs and epochs is not None:
            e_share = min(epochs / protocol.epochs, 1.0)
        counts = table.ours["n"] if "n" in table.ours else pd.Series(np.nan, table.ours.index)
        for n in counts:
            n = float(n) if pd.notna(n) else results.seeds
            if n is None:
                continue
            seeds_shares.append(min(n / protocol.seeds, 1.0))
            epoch_shares.append(e_share)
    if not seeds_shares:
        seeds = results.seeds if results.seeds is not None else protocol.seeds
        seeds_shares = [min(seeds / protocol.seeds, 1.0)]
        epochs = results.epochs
        ok = protocol.epochs and epochs is not None
        epoch_shares = [min(epochs / protocol.epochs, 1.0) if ok else 1.0]  # type: ignore[operator]
    share = float(np.mean(np.array(seeds_shares) * np.array(epoch_shares)))
    seeds = float(np.mean(seeds_shares)) * protocol.seeds
    text = f"{seeds:.3g} of {protocol.seeds} seeds"
    if protocol.epochs:
        epochs = float(np.mean(epoch_shares)) * protocol.epochs
        text += f", {epochs:.3g} of {protocol.epochs:g} epochs"
    text += f"; mean over {len(seeds_shares)} rows" if len(seeds_shares) > 1 else ""
    return PartBudget(share, text)
