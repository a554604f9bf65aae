"""Report specs: one YAML file per paper under ``conf/report/`` names what its section shows.

A spec is data, not code: the report module has no branch per paper. Keys (paths relative to the
repository root; reference CSVs relative to ``results/reference/``)::

    paper: topoae                 # id, the section's anchor (#topoae)
    order: 10                     # sections sorted by it
    title: Topological Autoencoders (ICML 2020)
    citation: Moor, Horn, Rieck, Borgwardt
    results:                      # result directories: README.md, provenance.json
      - {path: results/spheres, command: make reproduce-spheres, budget: "...",
         protocol: {seeds: 5, epochs: 100}, epochs: 100}   # the budget share: budget.py
    tables:
      - id: spheres
        title: SPHERES, Table 1
        source: results/spheres/runs   # run records (topoexp/report/records.py); or a CSV,
                                  # or a JSON file with `records` below
        columns: {perplexity: model.perplexity}   # records: more key columns (their config keys)
        array: null               # records: a CSV array of each record (per_class.csv) instead
                                  # of one row per record
        records: null             # JSON source: the key of its list of records (nested keys
                                  # flattened with dots: ratios.regularised / plain)
        kind: runs                # runs (one row per run, aggregated over seeds) | aggregated
                                  # (<metric>_mean, <metric>_std, n_seeds) | values (one value)
        where: {dataset: spheres} # rows of the source kept (a list: any of its values)
        rows: [method]            # the row key
        order: [isomap, pca]      # optional order of the first key's values
        order_by: null            # or of this column's values (values and aggregated tables)
        out: null                 # where `make report` writes <out>.md and <out>.csv (default:
                                  # <results directory>/tables/<id>)
        metrics: [kl_0.1, rmse]
        labels: {pca: PCA}        # display names of key values and metrics
        pivot: null               # {index: [beta, n], columns: method, values: mean}
        std_ddof: 0               # aggregated: the std's ddof (the claims' standard errors)
        reference:                # the paper's values (optional)
          csv: topoae_table1.csv
          where: {dataset: spheres}
          keys: {method: method}  # our row key → its column (default: same name)
          columns: {bottleneck_h0: bottleneck}   # our metric → its column
          key_prefix: ""          # prepended to its key values (attack_ + topmodel)
          context: false          # true: shown beside ours, never compared (another regime)
        tolerance: {kind: relative, value: 0.2}   # the default; first, per cell: the paper's
                                  # std, else our seeds' spread (sources: [paper_std, seeds])
    figures:
      - {path: results/spheres/latents.png, caption: "...",
         build: {kind: latents, source: results/spheres/runs, order: [pca, tsne]}}

A bad spec fails on load, naming the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from annotated_types import Gt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from topoexp.report.rules import Budget, ClaimRule
from topoexp.report.tolerance import Tolerance

__all__ = ["PaperSpec", "SpecError", "TableSpec", "load_spec", "load_specs"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToleranceSpec(_Strict):
    """The default (``kind``, ``value``) and the cell's own noise tried first (``sources``;
    :mod:`topoexp.report.tolerance`)."""

    kind: Literal["relative", "absolute", "paper_std"] = "relative"
    value: Annotated[float, Gt(0)] = 0.2
    sources: list[Literal["paper_std", "seeds"]] = Field(
        default_factory=lambda: ["paper_std", "seeds"]
    )
    k: Annotated[float, Gt(0)] = 2.0
    paper_seeds: Annotated[int, Gt(0)] = 5

    def build(self) -> Tolerance:
        return Tolerance(self.kind, self.value, tuple(self.sources), self.k, self.paper_seeds)


Scalar = str | int | float
Where = dict[str, Scalar | list[Scalar]]


class ReferenceSpec(_Strict):
    csv: str
    where: Where = Field(default_factory=dict)
    keys: dict[str, str] = Field(default_factory=dict)
    key_prefix: str = ""
    columns: dict[str, str] = Field(default_factory=dict)
    std_suffix: str = "_std"
    context: bool = False
    label: str = "paper"


class PivotSpec(_Strict):
    index: list[str]
    columns: str
    values: str


class TableSpec(_Strict):
    id: str
    title: str
    source: str
    columns: dict[str, str] = Field(default_factory=dict)
    array: str | None = None
    records: str | None = None
    kind: Literal["runs", "aggregated", "values"] = "runs"
    where: Where = Field(default_factory=dict)
    rows: list[str]
    order: list[str] = Field(default_factory=list)
    order_by: str | None = None
    out: str | None = None
    metrics: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    pivot: PivotSpec | None = None
    std_ddof: Literal[0, 1] = 0
    epochs: Annotated[float, Gt(0)] | None = None  # ours, where it differs from its results'
    optional: bool = False  # a source not committed yet: the table is left out, its claims not run
    reference: ReferenceSpec | None = None
    tolerance: ToleranceSpec | None = None
    bounded: list[str] = Field(
        default_factory=list
    )  # a cell nearer another row's paper value fails
    rank: list[str] = Field(default_factory=list)  # metrics whose winning row is checked
    higher_is_better: list[str] = Field(default_factory=list)  # of them, those maximised
    saturated_at: float | None = (
        None  # cells whose ours and paper are both ≥ it: marked, not counted
    )
    note: str = ""


class NotRunCellsSpec(_Strict):
    """Paper cells nobody ran: counted as not run (the non-empty values of the rows kept)."""

    csv: str
    where: Where = Field(default_factory=dict)
    reason: str


class FigureBuildSpec(_Strict):
    """How ``make report`` draws a figure from run records (:mod:`topoexp.report.figures`)."""

    kind: Literal["latents", "perplexity", "regression", "one_class_auc", "generative_metrics"]
    source: str  # a directory of run records
    array: str | None = None  # regression: the records' summary.csv
    columns: dict[str, str] = Field(default_factory=dict)
    where: Where = Field(default_factory=dict)
    order: list[str] = Field(default_factory=list)  # latents: methods; regression: β* panels
    labels: dict[str, str] = Field(default_factory=dict)
    title: str = ""  # latents: the title; regression: the y label
    dpi: Annotated[int, Gt(0)] = 150
    tight: bool = False  # bbox_inches="tight"


class FigureSpec(_Strict):
    path: str
    caption: str
    build: FigureBuildSpec | None = None  # None: a committed figure the report only shows


class ResultsSpec(_Strict):
    path: str
    command: str = ""
    budget: str = ""
    protocol: Budget | None = None  # the paper's seeds and epochs (topoexp/report/budget.py)
    seeds: Annotated[int, Gt(0)] | None = None  # ours, where a table counts no seeds per row
    epochs: Annotated[float, Gt(0)] | None = None  # ours (a table's `epochs` overrides it)


class PaperSpec(_Strict):
    paper: str
    order: int = 100
    title: str
    citation: str = ""
    summary: str = ""
    results: list[ResultsSpec]
    tables: list[TableSpec] = Field(default_factory=list)
    figures: list[FigureSpec] = Field(default_factory=list)
    claims: list[ClaimRule] = Field(default_factory=list)
    not_run_cells: list[NotRunCellsSpec] = Field(default_factory=list)
    source_file: str = ""


class SpecError(ValueError):
    """A report spec that cannot be used; the message names the file and the key."""


def load_spec(path: Path) -> PaperSpec:
    """Read and check one spec file."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a mapping at the top level")
    try:
        spec = PaperSpec(**data, source_file=path.name)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise SpecError(f"{path}: {problems}") from None
    for table in spec.tables:
        if table.reference is not None and not table.reference.context and table.tolerance is None:
            raise SpecError(
                f"{path}: tables.{table.id}.tolerance: a table compared with a reference needs one"
            )
    ids = [t.id for t in spec.tables]
    if len(set(ids)) != len(ids):
        raise SpecError(f"{path}: tables: ids must be unique, got {ids}")
    paths = [r.path for r in spec.results]
    for i, rule in enumerate(spec.claims):
        if rule.results and rule.results not in paths:
            raise SpecError(f"{path}: claims.{i}.results: {rule.results!r} is not in {paths}")
        if rule.kind == "not_run":
            continue
        for table in rule.tables:
            if table not in ids:
                raise SpecError(f"{path}: claims.{i}.table: {table!r} is not a table id ({ids})")
    claim_ids = [c.id for c in spec.claims]
    if len(set(claim_ids)) != len(claim_ids):
        raise SpecError(f"{path}: claims: ids must be unique, got {claim_ids}")
    return spec


def load_specs(directory: Path) -> list[PaperSpec]:
    """Every ``*.yaml`` spec of ``directory``, sorted by ``order`` then paper id."""
    specs = [load_spec(p) for p in sorted(directory.glob("*.yaml"))]
    if not specs:
        raise SpecError(f"no report specs (*.yaml) in {directory}")
    papers = [s.paper for s in specs]
    if len(set(papers)) != len(papers):
        raise SpecError(f"{directory}: paper ids must be unique, got {papers}")
    return sorted(specs, key=lambda s: (s.order, s.paper))
