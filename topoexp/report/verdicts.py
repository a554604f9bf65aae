"""Claims as rules: each claim of a paper is a rule of its report spec
(:mod:`topoexp.report.rules`), decided here from the rows of the spec's tables by the rule's kind
(:mod:`topoexp.report.kinds`). No verdict is transcribed: a claim no recorded number decides is
``not_run`` with its reason.

Categories (:data:`CATEGORIES`): a gap beyond two standard errors (``se = std / sqrt(n - 1)`` from
the population std of each side; ``margin`` where there are no seeds) in the claimed direction is
*reproduced*, or *reproduced at a reduced budget* when the seeds or epochs are fewer than the
protocol's; beyond two standard errors the other way, *not reproduced*; within them, or with fewer
than ``min_seeds`` seeds, *inconclusive*. A rule with parts (``each``) is reproduced when every
part is, not reproduced when any part is not, else inconclusive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from topoexp.report.cells import Cell, combine
from topoexp.report.kinds import evaluate
from topoexp.report.rules import Budget, ClaimRule

__all__ = ["CATEGORIES", "Budget", "ClaimRule", "Verdict", "decide"]

CATEGORIES: tuple[str, ...] = (
    "reproduced",
    "reproduced at a reduced budget",
    "inconclusive",
    "not reproduced",
    "not run",
)


@dataclass(frozen=True)
class Verdict:
    """A decided claim: the shape :mod:`topoexp.report.render` prints."""

    id: str
    claim: str
    verdict: str
    numbers: str
    budget_share: float | None  # our runs × epochs over the protocol's (None: not run)
    section: str = "Verdicts"


def _share(rule: ClaimRule, cells: list[Cell]) -> tuple[float, str]:
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


Tables = Mapping[str, pd.DataFrame | None]


def decide(rule: ClaimRule, ours: pd.DataFrame | Tables | None) -> Verdict:
    """The verdict of ``rule`` on its table's rows (``<metric>_mean``/``_std``, ``n``), or on
    the tables of its spec by id (a rule whose parts read several tables)."""
    section = rule.section or "Verdicts"
    if rule.kind == "not_run":
        return Verdict(rule.id, rule.claim, "not run", rule.reason, None, section)
    tables = ours if isinstance(ours, Mapping) else {rule.table: ours}
    parts = rule.parts()
    decided = [evaluate(p, tables.get(p.table)) for p in parts]
    verdict = combine([d.outcome for d in decided])
    if len(decided) == 1:
        numbers = decided[0].numbers
    else:
        numbers = "; ".join(f"({d.outcome}) {d.numbers}" for d in decided)
    share, budget = _share(rule, [c for d in decided for c in d.cells])
    if verdict == "reproduced" and share < 1.0:
        verdict = "reproduced at a reduced budget"
    if budget:
        numbers += f" [budget: {budget}]"
    return Verdict(rule.id, rule.claim, verdict, numbers, share, section)
