"""The report's content, built from the specs and the committed results (no rendering here).

:func:`build_report` reads every spec of ``conf/report/``, builds its tables with
:mod:`topoexp.report.tables`, decides its claims (:mod:`topoexp.report.verdicts`), reads the
provenance of its result directories, and counts the summary: cells within tolerance out of cells
compared, claims by verdict.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from topoexp.report import tables
from topoexp.report.budget import PartBudget, part_budget
from topoexp.report.rules import ClaimRule
from topoexp.report.spec import PaperSpec, ResultsSpec, SpecError, TableSpec, load_specs
from topoexp.report.verdicts import Verdict, decide

__all__ = ["BuiltTable", "Provenance", "Report", "Section", "Summary", "build_report"]

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
    winners: list[tuple[str, str, str]] = field(default_factory=list)  # metric, ours, paper's

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
class Provenance:
    commits: list[str]
    seeds: list[Any]
    n_runs: int | None
    date: str
    dirty: int = 0  # runs whose provenance says the tree was dirty
    records: int = 0  # run records committed under <results>/runs/

    def describe(self, command: str) -> str:
        """The commits that ran the code, dirty trees, and where the run records are."""
        text = ", ".join(self.commits) or "–"
        if self.dirty:
            text += f" ({self.dirty} run{'s' if self.dirty != 1 else ''} from a dirty tree)"
        if self.records:
            return text + f"; {self.records} run records under runs/"
        rebuild = f"; rebuild with {command}" if command else ""
        return text + f"; run records not committed{rebuild}"


@dataclass
class ResultsPart:
    spec: ResultsSpec
    claims: list[Verdict]
    provenance: Provenance
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


def _filter(frame: pd.DataFrame, where: dict, what: str) -> pd.DataFrame:
    for key, value in where.items():
        if key not in frame:
            raise SpecError(f"{what}: 'where' names the column {key!r}, not in {list(frame)}")
        frame = frame[frame[key].astype(str) == str(value)]
    return frame


def _source(spec: TableSpec, root: Path) -> pd.DataFrame:
    path = root / spec.source
    if not path.is_file():
        raise SpecError(f"table {spec.id}: source {spec.source} does not exist")
    if spec.records is not None:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not isinstance(data.get(spec.records), list):
            raise SpecError(f"table {spec.id}: {spec.source} has no list {spec.records!r}")
        frame = pd.json_normalize(data[spec.records])
    else:
        frame = pd.read_csv(path)
    frame = _filter(frame, spec.where, f"table {spec.id}")
    if spec.pivot is not None:
        p = spec.pivot
        frame = frame.pivot_table(
            index=p.index, columns=p.columns, values=p.values, aggfunc="first", sort=False
        ).reset_index()
        frame.columns = [str(c) for c in frame.columns]
    return frame


def _ours(spec: TableSpec, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Index of row-key tuples; ``<metric>_mean``, ``<metric>_std``, ``n``; and the metrics."""
    metrics = list(spec.metrics)
    if spec.kind == "runs":
        metrics = metrics or [c for c in frame if c not in spec.rows and c != "seed"]
        return tables.aggregate(frame, spec.rows, metrics, spec.order), metrics
    if not metrics:
        metrics = [c for c in frame if c not in spec.rows]
    out = pd.DataFrame(index=[tuple(r) for r in frame[spec.rows].itertuples(index=False)])
    for m in metrics:
        if spec.kind == "aggregated":
            mean, std = frame.get(f"{m}_mean"), frame.get(f"{m}_std")
        else:
            mean, std = frame.get(m), None
        if mean is None:
            raise SpecError(f"table {spec.id}: metric {m!r} is not in {spec.source}")
        out[f"{m}_mean"] = pd.to_numeric(mean, errors="coerce").to_numpy()
        out[f"{m}_std"] = np.nan if std is None else std.to_numpy()
    if spec.kind == "aggregated":
        count = "n_seeds" if "n_seeds" in frame else "n"
        out["n"] = frame[count].to_numpy() if count in frame else np.nan
    rank = {v: i for i, v in enumerate(spec.order)}
    ordered = sorted(out.index, key=lambda k: rank.get(str(k[0]), len(rank)))
    out = out.loc[ordered]
    out.attrs["std_ddof"] = spec.std_ddof
    return out, metrics


def build_table(spec: TableSpec, root: Path) -> BuiltTable:
    ours, metrics = _ours(spec, _source(spec, root))
    reference = None
    if spec.reference is not None:
        path = root / REFERENCE_DIR / spec.reference.csv
        if not path.is_file():
            raise SpecError(f"table {spec.id}: reference {path.relative_to(root)} does not exist")
        reference = _filter(pd.read_csv(path), spec.reference.where, f"table {spec.id} reference")
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
        spec, long, metrics, list(ours.index), reference is not None, tolerance, ours
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


def _find(data: Any, key: str) -> Iterator[Any]:
    """Every value stored under ``key`` anywhere in nested dicts and lists."""
    if isinstance(data, dict):
        for k, v in data.items():
            if k == key:
                yield v
            yield from _find(v, key)
    elif isinstance(data, list):
        for v in data:
            yield from _find(v, key)


def _git_date(root: Path, path: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%cs", "--", str(path)],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out or "unknown"


def provenance(root: Path, results: Path) -> Provenance:
    """Commits, seeds and run count from ``provenance.json``; date of its last commit."""
    file = results / "provenance.json"
    data = json.loads(file.read_text()) if file.is_file() else {}
    commits = sorted({str(c)[:7] for c in _find(data, "git_commit") if c})
    seeds: set = set()
    for found in _find(data, "seeds"):
        seeds.update(found if isinstance(found, list) else [found])
    runs = data.get("n_runs") if isinstance(data, dict) else None
    if runs is None and commits and isinstance(data, dict) and "git_commit" not in data:
        runs = len(data)  # one entry per run
    dated = file if file.is_file() else results
    dirty = sum(1 for d in _find(data, "git_dirty") if d is True)
    records = sum(1 for _ in (results / "runs").glob("*/metrics.json"))
    return Provenance(commits, sorted(seeds, key=str), runs, _git_date(root, dated), dirty, records)


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
        parts.append(ResultsPart(results, [], provenance(root, directory)))
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
        frame = _filter(pd.read_csv(path), cells.where, f"{spec.source_file} not_run_cells")
        values = frame.drop(columns=list(cells.where))
        summary.cells_not_run += int(values.select_dtypes("number").notna().sum().sum())
    for figure in spec.figures:
        if not (root / figure.path).is_file():
            raise SpecError(f"{spec.source_file}: figure {figure.path} does not exist")
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
