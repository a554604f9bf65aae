"""A claim of a paper as a rule of its report spec (``claims:`` in ``conf/report/<paper>.yaml``).

Every rule names a table of the same spec, rows by their key (a key prefix selects every row that
starts with it where the kind takes several rows) and a metric; :mod:`topoexp.report.kinds`
decides it. Keys::

    - id: topoae-lowest-kl01-spheres
      claim: "SPHERES: TopoAE has the lowest KL_0.1 of all methods"
      kind: best             # see KINDS below
      table: topoae_spheres  # a table id of the same spec
      metric: kl_0.1
      row: topoae            # the first key's value, or the whole key (or a prefix) as a list
      against: []            # rows compared with (default: every other row of the table)
      lower_is_better: true  # the claimed direction
      low: null              # range / ratio / difference: the claimed interval
      high: null
      against_metric: ""     # ratio / difference: the same rows' other metric as denominator
      metrics: []            # monotone: the metrics in order; wins: the claimed group
      against_metrics: []    # wins: the rivals of the group
      max_misses: 0          # wins: rows where the group may lose
      noise: se              # se: standard errors over seeds; std: the row's std is its value's
      min_seeds: 2           # fewer seeds on either side: inconclusive
      margin: 0.0            # smallest difference that counts where there is no noise
      protocol: {seeds: 5, epochs: 100}   # the paper's budget; ours: `epochs` below, seeds = n
      epochs: 100
      each: []               # parts: overrides of the keys above, every one must hold
      reason: ""             # not_run: why
      section: ""            # the README heading the claim is discussed under
      results: results/mnist # the results directory it belongs to (default: the spec's first)

Kinds (:data:`KINDS`): ``best`` (the row beats every row of ``against``), ``better`` (beats
``against[0]``), ``no_worse`` (is not beaten by any row of ``against``: comparable or better),
``range`` (its mean lies in ``[low, high]``), ``ratio`` (its mean over ``against[0]``'s, or over
``against_metric`` of the same rows: the geometric mean of the per-row ratios over every row the
prefix selects, lies in ``[low, high]``), ``difference`` (its mean minus ``against[0]``'s, or
minus ``against_metric``, lies in ``[low, high]``), ``monotone`` (the values of ``metrics`` on
the row, or of ``metric`` on ``[row, *against]``, move in the claimed direction at every step),
``wins`` (over every row the prefix selects, the best of ``metrics`` beats the best of
``against_metrics`` at all rows but at most ``max_misses``) and ``not_run`` (no number decides
it; ``reason`` says why).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Ge
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["KINDS", "Budget", "ClaimRule", "Key"]

KINDS: tuple[str, ...] = (
    "best",
    "better",
    "no_worse",
    "range",
    "ratio",
    "difference",
    "monotone",
    "wins",
    "not_run",
)
Kind = Literal[
    "best", "better", "no_worse", "range", "ratio", "difference", "monotone", "wins", "not_run"
]
Key = str | int | float | list[str | int | float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budget(_Strict):
    seeds: Annotated[int, Ge(1)] = 5
    epochs: Annotated[float, Ge(0)] | None = None


class ClaimRule(_Strict):
    id: str
    claim: str
    kind: Kind
    table: str = ""
    metric: str = ""
    row: Key = ""
    against: list[Key] = Field(default_factory=list)
    lower_is_better: bool = True
    low: float | None = None
    high: float | None = None
    against_metric: str = ""
    metrics: list[str] = Field(default_factory=list)
    against_metrics: list[str] = Field(default_factory=list)
    max_misses: Annotated[int, Ge(0)] = 0
    noise: Literal["se", "std"] = "se"
    min_seeds: Annotated[int, Ge(1)] = 2
    margin: Annotated[float, Ge(0)] = 0.0
    protocol: Budget = Budget()
    epochs: float | None = None
    each: list[dict[str, Any]] = Field(default_factory=list)
    reason: str = ""
    section: str = ""
    results: str = ""  # the spec's results directory the claim belongs to (default: the first)

    @model_validator(mode="after")
    def _complete(self) -> ClaimRule:
        if self.kind == "not_run":
            if not self.reason:
                raise ValueError("a not_run claim needs a reason")
            return self
        for part in self.parts():
            part._check_part()
        return self

    def _check_part(self) -> None:
        if self.kind in ("range", "ratio", "difference") and self.low is None and self.high is None:
            raise ValueError(f"a {self.kind} claim needs low or high")
        if self.kind == "monotone" and len(self.metrics) < 2 and not self.against:
            raise ValueError("a monotone claim needs two metrics, or rows in against")
        if self.kind == "wins" and not (self.metrics and self.against_metrics):
            raise ValueError("a wins claim needs metrics and against_metrics")
        if self.kind in ("ratio", "difference") and not (self.against or self.against_metric):
            raise ValueError(f"a {self.kind} claim needs against or against_metric")

    def parts(self) -> list[ClaimRule]:
        """The rule itself, or one rule per entry of ``each`` (its overrides applied)."""
        if not self.each:
            return [self]
        base = self.model_dump(exclude={"each"})
        out = []
        for i, override in enumerate(self.each):
            unknown = set(override) - set(base) | ({"each", "id", "claim"} & set(override))
            if unknown:
                raise ValueError(f"each.{i}: keys {sorted(unknown)} cannot be set per part")
            out.append(ClaimRule(**{**base, **override, "each": []}))
        return out

    @property
    def tables(self) -> list[str]:
        """Every table id the rule reads."""
        return sorted({p.table for p in self.parts()})
