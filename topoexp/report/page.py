"""The report's content, built from the specs and the committed results (no rendering here).

:func:`build_report` reads every spec of ``conf/report/``, builds its tables with
:mod:`topoexp.report.tables`, decides its claims (:mod:`topoexp.report.verdicts`), reads the
provenance of its tables' run records, and counts the summary: cells within tolerance out of cells
compared, claims by verdict.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from topoexp.report import records, tables
from topoexp.report.budget import PartBudget, part_budget
from topoexp.report.provenance import RecordsProvenance
from topoexp.report.rules import ClaimRule
from topoexp.report.spec import PaperSpec, ResultsSpec, SpecError, TableSpec, load_specs
from topoexp.report.table1 import PoolingError, check_poolable
from topoexp.report.verdicts import Verdict, decide

__all__ = ["BuiltTable", "Report", "ResultsPart", "Section", "Summary", "build_report"]

REFERENCE_DIR = "results/reference"


@dataclass
class BuiltTable:
    spec: TableSpec
    long: pd.DataFrame  # tables.compare's long form
    metrics: list[str]
    rows: list[tuple]
    has_reference: bool
    tolerance: tables.Tolerance | None
    ours: pd.DataFrame | None = None
    provenance: RecordsProvenance | None = None  # None: the source is not run records
    winners: list[tuple[str, str, str]] = field(default_factory=list)  # metric, ours, paper's
    out: str = ""  # where make report writes <out>.md and <out>.csv

    @property
    def saturated(self) -> int:
        return int(self.long.get("saturated", pd.Series(dtype=bool)).fillna(False).sum())

    @property
    def compared(self) -> int:
        return int(self.long["within"].notna().sum())

    @property
    def within(self) -> int:
        return int((self.long["within"] == True).sum())  # noqa: E712 (object column)

    def cell(self, row: tuple, metric: str) -> pd.Series | None:
        hit = self.long[(self.long["row"] == row) & (self.long["metric"] == metric)]
        return None if hit.empty else hit.iloc[0]


@dataclass
class ResultsPart:
    spec: ResultsSpec
    claims: list[Verdict]
    provenance: RecordsProvenance | None = None  # the records of its tables (None: no records)
    budget: PartBudget | None = None


@dataclass
class Summary:
    cells_compared: int = 0
    cells_within: int = 0
    cells_context: int = 0
    cells_saturated: int = 0
    winners_checked: int = 0
    winners_agree: int = 0
    cells_not_run: int = 0
    verdicts: Counter = field(default_factory=Counter)
    budget_shares: list[float] = field(default_factory=list)  # one per results directory

    @property
    def budget_share(self) -> float | None:
        """Mean share of the protocols' budgets (seeds × epochs) over the results directories."""
        return float(np.mean(self.budget_shares)) if self.budget_shares else None

    @property
    def claims_checked(self) -> int:
        return sum(n for v, n in self.verdicts.items() if v != "not run")

    @property
    def claims_reproduced(self) -> int:
        return self.verdicts["reproduced"]

    def add(self, other: Summary) -> None:
        self.cells_compared += other.cells_compared
        self.cells_within += other.cells_within
        self.cells_context += other.cells_context
        self.cells_saturated += other.cells_saturated
        self.winners_checked += other.winners_checked
        self.winners_agree += other.winners_agree
        self.cells_not_run += other.cells_not_run
        self.verdicts.update(other.verdicts)
        self.budget_shares += other.budget_shares


@dataclass
class Section:
    spec: PaperSpec
    tables: list[BuiltTable]
    parts: list[ResultsPart]
    summary: Summary

    @property
    def claims(self) -> Iterator[tuple[ResultsPart, Verdict]]:
        for part in self.parts:
            for claim in part.claims:
                yield part, claim


@dataclass
class Report:
    sections: list[Section]
    summary: Summary


def _same(cell: object, value: object) -> bool:
    if str(cell) == str(value):
        return True
    try:
        return float(cell) == float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def select_rows(frame: pd.DataFrame, where: dict, what: str) -> pd.DataFrame:
    """The rows of ``frame`` whose column equals the value (or one of the values) of ``where``."""
    for key, value in where.items():
        if key not in frame:
            raise SpecError(f"{what}: 'where' names the column {key!r}, not in {list(frame)}")
        values = value if isinstance(value, list) else [value]
        keep = frame[key].map(lambda cell, vs=values: any(_same(cell, v) for v in vs))
        frame = frame[keep.astype(bool)]
    return frame


def _read(spec: TableSpec, root: Path) -> pd.DataFrame:
    """The source as one frame: run records (a directory), a CSV, or a JSON list."""
    path = root / spec.source
    if path.is_dir():
        if spec.array is not None:
            return records.load_array(path, spec.array, spec.columns)
        return records.load_records(path, spec.columns)
    if not path.is_file():
        raise SpecError(f"table {spec.id}: source {spec.source} does not exist")
    if spec.columns or spec.array:
        raise SpecError(f"table {spec.id}: columns and array need run records, not {spec.source}")
    if spec.records is not None:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not isinstance(data.get(spec.records), list):
            raise SpecError(f"table {spec.id}: {spec.source} has no list {spec.records!r}")
        return pd.json_normalize(data[spec.records])
    return pd.read_csv(path)


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``frame`` sorted by ``keys`` (numbers as numbers, stable)."""

    def key(column: pd.Series) -> pd.Series:
        numbers = pd.to_numeric(column, errors="coerce")
        return numbers if numbers.notna().all() else column.astype(str)

    return frame.sort_values(keys, key=key, kind="stable") if keys else frame


def _check_pooled(spec: TableSpec, directory: Path, frame: pd.DataFrame) -> None:
    """The full records of one row must differ only in their seed (converted records hold too
    little of their config to compare)."""
    full = frame[frame["record"] == records.FULL]
    for _, group in full.groupby(spec.rows, sort=False, dropna=False):
        configs = {
            r: yaml.safe_load((directory / r / "config.yaml").read_text()) for r in group["run"]
        }
        try:
            check_poolable(configs)
        except PoolingError as error:
            raise SpecError(f"table {spec.id}: {error}") from None


def _source(spec: TableSpec, root: Path) -> tuple[pd.DataFrame, RecordsProvenance | None]:
    """The source's rows this table keeps, and the provenance of their run records."""
    frame = select_rows(_read(spec, root), spec.where, f"table {spec.id}")
    found = None
    if (root / spec.source).is_dir():
        if frame.empty:
            raise SpecError(f"table {spec.id}: no record of {spec.source} matches {spec.where}")
        found = RecordsProvenance.of(frame, spec.source)
        frame = _sorted(frame, [k for k in spec.rows if k in frame])  # not the folder's order
        if spec.kind == "runs" and spec.array is None:
            _check_pooled(spec, root / spec.source, frame)
    if spec.order_by is not None:
        if spec.order_by not in frame:
            raise SpecError(f"table {spec.id}: order_by {spec.order_by!r} is not a column")
        if spec.order:
            rank = {str(v): i for i, v in enumerate(spec.order)}
            position = [rank.get(str(v), len(rank)) for v in frame[spec.order_by]]
            frame = frame.iloc[sorted(range(len(frame)), key=position.__getitem__)]
        else:
            frame = _sorted(frame, [spec.order_by])
    if spec.pivot is not None:
        p = spec.pivot
        frame = frame.pivot_table(
            index=p.index, columns=p.columns, values=p.values, aggfunc="first", sort=False
        ).reset_index()
        frame.columns = [str(c) for c in frame.columns]
    return frame, found


def _ours(spec: TableSpec, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Index of row-key tuples; ``<metric>_mean``, ``<metric>_std``, ``n``; and the metrics."""
    metrics = list(spec.metrics)
    described = {*spec.rows, "seed", *records.KEYS, *records.META, *spec.columns}
    if spec.kind == "runs":
        metrics = metrics or [c for c in frame if c not in described]
        return tables.aggregate(frame, spec.rows, metrics, spec.order), metrics
    if not metrics:
        metrics = [c for c in frame if c not in described]
    out = pd.DataFrame(index=[tuple(r) for r in frame[spec.rows].itertuples(index=False)])
    for m in metrics:
        mean, std = frame.get(m), frame.get(f"{m}_std")
        if spec.kind == "aggregated" and f"{m}_mean" in frame:
            mean = frame[f"{m}_mean"]
        if mean is None:
            raise SpecError(f"table {spec.id}: metric {m!r} is not in {spec.source}")
        out[f"{m}_mean"] = pd.to_numeric(mean, errors="coerce").to_numpy()
        out[f"{m}_std"] = np.nan if std is None else pd.to_numeric(std, errors="coerce").to_numpy()
    if spec.kind == "aggregated":
        count = "n_seeds" if "n_seeds" in frame else "n"
        one = 1 if "record" in frame else np.nan  # a record without a count: one run
        out["n"] = frame[count].to_numpy() if count in frame else one
    if spec.order_by is None:
        rank = {v: i for i, v in enumerate(spec.order)}
        out = out.loc[sorted(out.index, key=lambda k: rank.get(str(k[0]), len(rank)))]
    out.attrs["std_ddof"] = spec.std_ddof
    return out, metrics


def build_table(spec: TableSpec, root: Path) -> BuiltTable:
    frame, found = _source(spec, root)
    ours, metrics = _ours(spec, frame)
    reference = None
    if spec.reference is not None:
        path = root / REFERENCE_DIR / spec.reference.csv
        if not path.is_file():
            raise SpecError(f"table {spec.id}: reference {path.relative_to(root)} does not exist")
        reference = select_rows(
            pd.read_csv(path), spec.reference.where, f"table {spec.id} reference"
        )
        if spec.reference.key_prefix:
            for key in spec.rows:
                column = spec.reference.keys.get(key, key)
                reference[column] = spec.reference.key_prefix + reference[column].astype(str)
    tolerance = spec.tolerance.build() if spec.tolerance is not None else None
    ref = spec.reference
    long = tables.compare(
        ours,
        reference,
        spec.rows,
        metrics,
        tolerance or tables.Tolerance(),
        reference_keys=ref.keys if ref else None,
        reference_columns=ref.columns if ref else None,
        std_suffix=ref.std_suffix if ref else "_std",
        ddof=spec.std_ddof,
    )
    if ref is None or ref.context:
        long["within"] = None
        long["tolerance"], long["tolerance_source"] = np.nan, ""
    long["within"] = long["within"].astype(object)
    _judge_bounded(long, spec.bounded)
    if spec.saturated_at is not None:
        level = spec.saturated_at
        long["saturated"] = (long["ours_mean"] >= level) & (long["paper"] >= level)
        long.loc[long["saturated"], "within"] = None
        long.loc[long["saturated"], "tolerance_source"] = ""
    built = BuiltTable(
        spec, long, metrics, list(ours.index), reference is not None, tolerance, ours, found
    )
    built.winners = winners(long, spec.rank, spec.higher_is_better)
    return built


def winners(
    long: pd.DataFrame, metrics: list[str], higher: list[str]
) -> list[tuple[str, str, str]]:
    """Per metric of ``metrics``: our best row and the paper's, over rows where both have one."""
    out = []
    for metric in metrics:
        cells = long[(long["metric"] == metric) & long["ours_mean"].notna() & long["paper"].notna()]
        if len(cells) < 2:
            continue
        pick = "idxmax" if metric in higher else "idxmin"
        ours = cells.loc[getattr(cells["ours_mean"], pick)(), "row"]
        paper = cells.loc[getattr(cells["paper"], pick)(), "row"]
        out.append((metric, ", ".join(map(str, ours)), ", ".join(map(str, paper))))
    return out


def _judge_bounded(long: pd.DataFrame, bounded: list[str]) -> None:
    """A bounded metric's cell fails when another row's paper value is as near to ours."""
    for metric in bounded:
        cells = long[(long["metric"] == metric) & long["within"].notna()]
        papers = long.loc[long["metric"] == metric, ["row", "paper"]].dropna()
        for i, cell in cells.iterrows():
            own = abs(cell["ours_mean"] - cell["paper"])
            rivals = papers[papers["row"] != cell["row"]]["paper"]
            if (abs(rivals - cell["ours_mean"]) <= own).any():
                long.at[i, "within"] = False


def _part_of(source: str, paths: list[str]) -> int:
    """The results directory a table belongs to: the deepest one holding its source, else the
    first."""
    holding = [i for i, p in enumerate(paths) if source == p or source.startswith(p + "/")]
    return max(holding, key=lambda i: len(paths[i])) if holding else 0


def _absent(rule: ClaimRule, missing: dict[str, str]) -> ClaimRule:
    """``rule``, or ``not_run`` naming the sources of its optional tables not committed."""
    absent = [missing[t] for t in rule.tables if t in missing]
    if not absent or rule.kind == "not_run":
        return rule
    why = f"{', '.join(absent)} not committed" + (f": {rule.reason}" if rule.reason else "")
    return rule.model_copy(update={"kind": "not_run", "reason": why})


def build_section(spec: PaperSpec, root: Path) -> Section:
    missing = {t.id: t.source for t in spec.tables if t.optional}
    missing = {k: v for k, v in missing.items() if not (root / v).is_file()}
    built = [build_table(t, root) for t in spec.tables if t.id not in missing]
    parts = []
    summary = Summary()
    for results in spec.results:
        directory = root / results.path
        if not (directory / "README.md").is_file():
            raise SpecError(f"{spec.source_file}: results {results.path} has no README.md")
        if (directory / "claims.yaml").is_file():
            raise SpecError(
                f"{spec.source_file}: {results.path}/claims.yaml: transcribed verdicts are gone; "
                "state each claim as a rule (claims: in the spec)"
            )
        parts.append(ResultsPart(results, []))
    paths = [p.spec.path for p in parts]
    for table in built:
        part = parts[_part_of(table.spec.source, paths)]
        table.out = table.spec.out or f"{part.spec.path}/tables/{table.spec.id}"
    for i, part in enumerate(parts):
        mine = [t.provenance for t in built if t.provenance and _part_of(t.spec.source, paths) == i]
        part.provenance = RecordsProvenance.combine(mine)
    if spec.claims:
        by_id = {t.spec.id: t.ours for t in built}
        paths = [p.spec.path for p in parts]
        decided = []
        for rule in spec.claims:
            verdict = decide(_absent(rule, missing), by_id)
            index = paths.index(rule.results) if rule.results in paths else 0
            parts[index].claims.append(verdict)
            decided.append(verdict)
        summary.verdicts.update(v.verdict for v in decided)
    paths = [r.path for r in spec.results]
    for part in parts:
        part.budget = part_budget(part.spec, built, paths)
        if part.budget is not None:
            summary.budget_shares.append(part.budget.share)
    for cells in spec.not_run_cells:
        path = root / REFERENCE_DIR / cells.csv
        if not path.is_file():
            raise SpecError(f"{spec.source_file}: not_run_cells: {cells.csv} does not exist")
        frame = select_rows(pd.read_csv(path), cells.where, f"{spec.source_file} not_run_cells")
        values = frame.drop(columns=list(cells.where))
        summary.cells_not_run += int(values.select_dtypes("number").notna().sum().sum())
    for figure in spec.figures:  # a drawn figure needs its records, a committed one its file
        needed = figure.path if figure.build is None else figure.build.source
        if not (root / needed).exists():
            raise SpecError(f"{spec.source_file}: figure {figure.path}: {needed} does not exist")
    for table in built:
        summary.cells_compared += table.compared
        summary.cells_within += table.within
        summary.cells_saturated += table.saturated
        summary.winners_checked += len(table.winners)
        summary.winners_agree += sum(ours == paper for _, ours, paper in table.winners)
        if table.has_reference and (table.spec.reference is None or table.spec.reference.context):
            summary.cells_context += int(table.long["paper"].notna().sum())
    return Section(spec, built, parts, summary)


def build_report(root: Path, specs_dir: Path | None = None) -> Report:
    """Every section of the report, from ``conf/report/*.yaml`` and the committed results."""
    specs = load_specs(specs_dir or root / "conf" / "report")
    sections = [build_section(s, root) for s in specs]
    total = Summary()
    for section in sections:
        total.add(section.summary)
    return Report(sections, total)
