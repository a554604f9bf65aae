"""The report as a static HTML page and its Markdown twin (same content, relative links).

The page is self-contained: inline CSS, no script, no network; figures are relative links to the
committed PNGs. Tables scroll inside their own container, so the page fits a phone's width.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

import numpy as np

from topoexp.report.claims import fill_markers, slug
from topoexp.report.page import BuiltTable, Report, ResultsPart, Section, Summary
from topoexp.report.spec import FigureSpec
from topoexp.report.tables import fmt
from topoexp.report.tolerance import SOURCES
from topoexp.report.verdicts import CATEGORIES

__all__ = ["html_page", "markdown_page"]

TITLE = "topoexp: what is reproduced"
VERDICT_CLASS = {
    "reproduced": "ok",
    "reproduced at a reduced budget": "reduced",
    "inconclusive": "none",
    "not reproduced": "bad",
    "not run": "none",
}
CSS = """
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;
margin:0 auto;max-width:78rem;padding:0 1rem 3rem;overflow-wrap:break-word}
h1{font-size:1.6rem;margin:1.2rem 0 .4rem}h2{margin-top:2.5rem;border-bottom:2px solid #ddd}
h3{margin-top:1.6rem}code{font-size:.9em;background:#f3f3f5;padding:0 .2em;overflow-wrap:anywhere}
nav ul{display:flex;flex-wrap:wrap;gap:.3rem 1rem;padding:0;list-style:none}
.table-wrap{overflow-x:auto;max-width:100%;margin:.5rem 0 1rem}
table{border-collapse:collapse;font-size:.85rem}
th,td{border:1px solid #d5d5da;padding:.25rem .45rem;vertical-align:top;text-align:left}
th{background:#f3f3f5}td.num{text-align:right;white-space:nowrap}
td.num span{display:block}.paper{color:#555}.dev,.tol{color:#777;font-size:.8em}
td.out{background:#fde2e1}td.in{background:#e6f4ea}
.verdict{display:inline-block;padding:0 .4em;border-radius:.3em;white-space:nowrap;font-weight:600}
.verdict.ok{background:#e6f4ea;color:#1e6b34}.verdict.reduced{background:#fff3d6;color:#7a5600}
.verdict.bad{background:#fde2e1;color:#9b1c1c}.verdict.none{background:#eceff3;color:#444}
.claims td{min-width:9rem}.claims td:first-child{min-width:14rem}
figure{margin:1rem 0}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}.note{color:#555;font-size:.9rem}
""".strip()


def _rel(path: str, root: Path, out_dir: Path) -> str:
    return Path(os.path.relpath(root / path, out_dir)).as_posix()


def _short(path: str) -> str:
    return path.removeprefix("results/")


def _dev(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value * 100:+.1f} %"


COLUMNS = CATEGORIES


def _budget(s: Summary) -> str:
    share = s.budget_share
    return "–" if share is None else f"{share * 100:.0f} %"


def _summary_line(s: Summary) -> str:
    v = s.verdicts
    claims = ", ".join(f"{v[c]} {c}" for c in COLUMNS)
    return (
        f"{s.cells_within} of {s.cells_compared} cells compared within tolerance "
        f"({s.cells_context} beside another definition, shown as context; "
        f"{s.cells_saturated} saturated; {s.cells_not_run} not run); "
        f"the paper's winner is ours in {s.winners_agree} of "
        f"{s.winners_checked} columns; claims: {claims}; "
        f"budget: {_budget(s)} of the protocol's (seeds × epochs)"
    )


def _part_budget(part: ResultsPart) -> str:
    b = part.budget
    return "–" if b is None else f"{b.share * 100:.0f} % ({b.text})"


def _budget_line(section: Section) -> str:
    """Per results directory: its share of the protocol's seeds × epochs."""
    parts = [f"{_short(p.spec.path)} {_part_budget(p)}" for p in section.parts]
    return "Budget of the numbers against the protocol's (seeds × epochs): " + "; ".join(parts)


def _tol(cell) -> str:
    """A compared cell's tolerance and its source: ``tol ±0.013 (our seeds)``."""
    source = cell.get("tolerance_source", "")
    if cell.within is None or not source or not np.isfinite(cell.get("tolerance", np.nan)):
        return ""
    return f"tol ±{fmt(cell.tolerance)} ({SOURCES[source]})"


def _sources(table: BuiltTable) -> str:
    compared = table.long[table.long["within"].notna()]
    counts = compared["tolerance_source"].value_counts()
    if counts.empty:
        return ""
    parts = [f"{SOURCES[s]} {counts[s]}" for s in SOURCES if s in counts]
    return " Tolerance per cell from: " + ", ".join(parts) + "."


def _legend(table: BuiltTable) -> str:
    ref = table.spec.reference
    if ref is None:
        return "Ours only: the paper gives no value for these cells (shown, not compared)."
    if ref.context:
        return f"Beside ours: {ref.label} (`{ref.csv}`), another regime: shown, never compared."
    assert table.tolerance is not None
    return (
        f"Each cell: ours (mean ± std over the runs of the row), the paper's value "
        f"(`{ref.csv}`) and the deviation; † outside the tolerance: {table.tolerance.describe()}. "
        f"{table.within} of {table.compared} cells compared are within it."
        + _sources(table)
        + _extras(table)
    )


def records_line(table: BuiltTable) -> str:
    """Where a table's numbers come from: its run records, their kinds, commits, dirty trees."""
    found = table.provenance
    source = f"`{table.spec.source}`"
    if found is None:
        return f"Source: {source} (a results file, not run records)."
    return f"Source: {source}, {found.describe()}; last run ended {found.last_run}."


def _part_cells(part: ResultsPart) -> tuple[str, str, str, str]:
    """Seeds, records, commits and date of a results directory's tables' records."""
    p = part.provenance
    if p is None:
        return "–", "–", "no run records", "–"
    seeds = ", ".join(str(s) for s in p.seeds) or "–"
    return seeds, p.kinds(), p.code(), p.last_run


def _extras(table: BuiltTable) -> str:
    text = ""
    if table.spec.bounded:
        text += (
            f" Bounded metrics ({', '.join(table.spec.bounded)}): a cell also fails when another "
            "row's paper value is as near to ours."
        )
    if table.saturated:
        text += f" {table.saturated} cells saturated (ours and the paper's ≥ "
        text += f"{table.spec.saturated_at:g}): marked, not counted."
    if table.winners:
        agree = sum(o == p for _, o, p in table.winners)
        misses = "; ".join(f"{m}: ours {o}, paper {p}" for m, o, p in table.winners if o != p)
        text += f" Winning row as the paper's in {agree} of {len(table.winners)} columns"
        text += f" (differs: {misses})." if misses else "."
    return text


# --------------------------------------------------------------------------------------- HTML


def _beside(table: BuiltTable, cell) -> bool:
    """Whether a cell shows the reference's value: always when it is compared, only where there
    is one when it is context."""
    ref = table.spec.reference
    if not table.has_reference or ref is None:
        return False
    return not ref.context or bool(np.isfinite(cell.paper))


def _html_cell(table: BuiltTable, row: tuple, metric: str) -> str:
    cell = table.cell(row, metric)
    if cell is None or (not np.isfinite(cell.ours_mean) and not np.isfinite(cell.paper)):
        return '<td class="num">–</td>'
    ours = fmt(cell.ours_mean)
    if cell.n and cell.n > 1 and np.isfinite(cell.ours_std):
        ours += f" ± {fmt(cell.ours_std)}"
    parts = [f"<span>{escape(ours)}</span>"]
    if _beside(table, cell):
        label = escape(table.spec.reference.label)  # type: ignore[union-attr]
        paper = fmt(cell.paper)
        if np.isfinite(cell.paper_std):
            paper += f" ± {fmt(cell.paper_std)}"
        parts.append(f'<span class="paper">{label} {escape(paper)}</span>')
        if np.isfinite(cell.rel_dev):
            parts.append(f'<span class="dev">{_dev(cell.rel_dev)}</span>')
        if _tol(cell):
            parts.append(f'<span class="tol">{escape(_tol(cell))}</span>')
    css = {True: " in", False: " out"}.get(cell.within, "")  # type: ignore[call-overload]
    mark = " †" if cell.within is False else ""
    if mark:
        parts[0] = f"<span>{escape(ours)}{mark}</span>"
    return f'<td class="num{css}">{"".join(parts)}</td>'


def _html_table(table: BuiltTable) -> str:
    spec = table.spec
    labels = spec.labels
    head = "".join(f"<th>{escape(k)}</th>" for k in spec.rows)
    head += "<th>runs</th>" if spec.kind != "values" else ""
    head += "".join(f"<th>{escape(labels.get(m, m))}</th>" for m in table.metrics)
    body = []
    for row in table.rows:
        cells = "".join(f"<td>{escape(labels.get(str(v), str(v)))}</td>" for v in row)
        if spec.kind != "values":
            n = table.long[table.long["row"] == row]["n"]
            count = n.iloc[0] if len(n) and n.iloc[0] is not None else None
            cells += f'<td class="num">{count if count is not None else "–"}</td>'
        cells += "".join(_html_cell(table, row, m) for m in table.metrics)
        body.append(f"<tr>{cells}</tr>")
    note = f'<p class="note">{escape(spec.note)}</p>' if spec.note else ""
    return (
        f'<h3 id="{escape(table_anchor(table))}">{escape(spec.title)}</h3>\n'
        f'<p class="note">{_inline(_legend(table))}</p>{note}\n'
        f'<p class="note records">{_inline(records_line(table))}</p>\n'
        f'<div class="table-wrap"><table class="data" data-table="{escape(spec.id)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def table_anchor(table: BuiltTable) -> str:
    return f"table-{table.spec.id}"


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code>."""
    out = []
    for i, piece in enumerate(escape(text).split("`")):
        out.append(f"<code>{piece}</code>" if i % 2 else piece)
    return "".join(out)


def _html_claims(section: Section, root: Path, out_dir: Path) -> str:
    rows = []
    for part, claim in section.claims:
        readme = _rel(f"{part.spec.path}/README.md", root, out_dir)
        verdict = claim.verdict
        rows.append(
            f'<tr data-claim="{escape(claim.id)}"><td>{_inline(claim.claim)}</td>'
            f'<td><span class="verdict {VERDICT_CLASS[verdict]}">{verdict}</span></td>'
            f"<td>{_inline(claim.numbers)}</td>"
            f'<td><a href="{escape(readme)}#{slug(claim.section)}">'
            f"{escape(_short(part.spec.path))}: {escape(claim.section)}</a></td></tr>"
        )
    if not rows:
        return '<p class="note">No claims recorded.</p>'
    return (
        '<div class="table-wrap"><table class="claims"><thead><tr><th>claim</th><th>verdict</th>'
        f"<th>numbers / why</th><th>decided in</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table></div>"
    )


def _html_provenance(section: Section, root: Path, out_dir: Path) -> str:
    rows = []
    for part in section.parts:
        seeds, kinds, code, date = _part_cells(part)
        readme = _rel(f"{part.spec.path}/README.md", root, out_dir)
        rows.append(
            f'<tr><td><a href="{escape(readme)}">{escape(part.spec.path)}</a></td>'
            f"<td><code>{escape(part.spec.command) or '–'}</code></td>"
            f"<td>{_inline(part.spec.budget) or '–'}</td>"
            f"<td>{escape(_part_budget(part))}</td><td>{escape(seeds)}</td>"
            f"<td>{escape(kinds)}</td><td>{escape(code)}</td><td>{escape(date)}</td></tr>"
        )
    return (
        '<div class="table-wrap"><table class="provenance"><thead><tr><th>results</th>'
        "<th>command</th><th>budget</th><th>share of the protocol</th><th>seeds</th>"
        "<th>run records</th><th>code</th>"
        f"<th>last run</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def figure_origin(figure: FigureSpec) -> str:
    """Where a figure comes from: drawn by ``make report`` from run records, or committed."""
    if figure.build is not None:
        return f"drawn by `make report` from `{figure.build.source}`"
    return "a committed image drawn from model outputs that the run records do not hold"


def _html_section(section: Section, root: Path, out_dir: Path) -> str:
    spec = section.spec
    figures = "".join(
        f'<figure><img src="{escape(_rel(f.path, root, out_dir))}" alt="{escape(f.caption)}">'
        f"<figcaption>{_inline(f.caption)} <em>({_inline(figure_origin(f))})</em></figcaption>"
        "</figure>"
        for f in spec.figures
    )
    citation = f'<p class="note">{escape(spec.citation)}</p>' if spec.citation else ""
    intro = f"<p>{_inline(spec.summary)}</p>" if spec.summary else ""
    return (
        f'<section id="{escape(spec.paper)}" class="paper" data-paper="{escape(spec.paper)}">'
        f"<h2>{escape(spec.title)}</h2>{citation}{intro}"
        f"<p><strong>{escape(_summary_line(section.summary))}</strong></p>"
        f'<p class="note">{escape(_budget_line(section))}</p>'
        f"<h3>Claims</h3>{_html_claims(section, root, out_dir)}"
        + "".join(_html_table(t) for t in section.tables)
        + (f"<h3>Figures</h3>{figures}" if figures else "")
        + f"<h3>Provenance</h3>{_html_provenance(section, root, out_dir)}</section>"
    )


def _html_summary(report: Report) -> str:
    s = report.summary
    v = s.verdicts
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    rows = "".join(
        f'<tr><td><a href="#{escape(x.spec.paper)}">{escape(x.spec.title)}</a></td>'
        f'<td class="num">{x.summary.cells_within} / {x.summary.cells_compared}</td>'
        f'<td class="num">{x.summary.cells_context}</td>'
        + "".join(f'<td class="num">{x.summary.verdicts[c]}</td>' for c in COLUMNS)
        + f'<td class="num">{_budget(x.summary)}</td></tr>'
        for x in report.sections
    )
    spans = ", ".join(
        f'<span id="claims-{c.replace(" ", "-")}" data-value="{v[c]}">{v[c]}</span> {escape(c)}'
        for c in COLUMNS
    )
    return (
        '<section id="summary"><h2>Summary</h2><p>'
        f'<strong><span id="cells-within" data-value="{s.cells_within}">{s.cells_within}</span>'
        f' of <span id="cells-compared" data-value="{s.cells_compared}">{s.cells_compared}</span>'
        " table cells compared</strong> within tolerance of the paper's value (cells of another "
        f"definition are context, {s.cells_context}, not compared; {s.cells_saturated} saturated "
        f"cells marked, not counted); claims: "
        f'<span id="claims-checked" data-value="{s.claims_checked}">{s.claims_checked}</span>'
        f" checked against numbers (every claim but those not run); by category: {spans}.</p>"
        '<div class="table-wrap"><table class="summary"><thead><tr><th>paper</th>'
        f"<th>cells within / compared</th><th>context cells</th>{head}<th>budget</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></div></section>"
    )


def html_page(report: Report, root: Path, out_dir: Path) -> str:
    nav = "".join(
        f'<li><a href="#{escape(s.spec.paper)}">{escape(s.spec.title)}</a></li>'
        for s in report.sections
    )
    body = "".join(_html_section(s, root, out_dir) for s in report.sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{TITLE}</title><style>{CSS}</style></head>\n'
        f'<body><header><h1>{TITLE}</h1><p class="note">Every table beside its paper, every '
        "claim with its verdict, the figures and how each number was made. Generated by "
        "<code>make report</code> (<code>python -m topoexp.report</code>) from the run records "
        "committed under <code>results/*/runs/</code> and <code>conf/report/*.yaml</code>; "
        "Markdown twin: "
        '<a href="README.md">README.md</a>.</p>'
        f'<nav><ul><li><a href="#summary">Summary</a></li>{nav}</ul></nav></header>\n'
        f"<main>{_html_summary(report)}\n{body}</main></body></html>\n"
    )


# ----------------------------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_cell(table: BuiltTable, row: tuple, metric: str) -> str:
    cell = table.cell(row, metric)
    if cell is None or (not np.isfinite(cell.ours_mean) and not np.isfinite(cell.paper)):
        return "–"
    text = fmt(cell.ours_mean)
    if cell.n and cell.n > 1 and np.isfinite(cell.ours_std):
        text += f" ± {fmt(cell.ours_std)}"
    if _beside(table, cell):
        paper = fmt(cell.paper)
        if np.isfinite(cell.paper_std):
            paper += f" ± {fmt(cell.paper_std)}"
        dev = _dev(cell.rel_dev)
        tol = f"; {_tol(cell)}" if _tol(cell) else ""
        text += f" ({paper}{', ' + dev if dev else ''}{tol})"
    return text + (" †" if cell.within is False else "")


def md_table(table: BuiltTable) -> list[str]:
    spec = table.spec
    labels = spec.labels
    head = [*spec.rows, *(["runs"] if spec.kind != "values" else [])]
    head += [labels.get(m, m) for m in table.metrics]
    lines = [f"### {spec.title}", "", _legend(table), ""]
    if spec.note:
        lines += [spec.note, ""]
    lines += [records_line(table), ""]
    lines += ["| " + " | ".join(_md(h) for h in head) + " |", "|" + "---|" * len(head)]
    for row in table.rows:
        cells = [labels.get(str(v), str(v)) for v in row]
        if spec.kind != "values":
            n = table.long[table.long["row"] == row]["n"]
            cells.append(str(n.iloc[0]) if len(n) and n.iloc[0] is not None else "–")
        cells += [_md_cell(table, row, m) for m in table.metrics]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return [*lines, ""]


def _md_section(section: Section, root: Path, out_dir: Path) -> list[str]:
    spec = section.spec
    lines = [f"## {spec.title}", ""]
    if spec.citation:
        lines += [spec.citation, ""]
    if spec.summary:
        lines += [spec.summary, ""]
    lines += [f"**{_summary_line(section.summary)}**", "", _budget_line(section), ""]
    lines += ["### Claims", ""]
    claims = list(section.claims)
    if claims:
        lines += ["| claim | verdict | numbers / why | decided in |", "|---|---|---|---|"]
        for part, c in claims:
            readme = _rel(f"{part.spec.path}/README.md", root, out_dir)
            verdict = f"**{c.verdict}**"
            where = f"[{_short(part.spec.path)}: {c.section}]({readme}#{slug(c.section)})"
            lines.append(f"| {_md(c.claim)} | {_md(verdict)} | {_md(c.numbers)} | {_md(where)} |")
    else:
        lines.append("No claims recorded.")
    lines.append("")
    for table in section.tables:
        lines += md_table(table)
    if spec.figures:
        lines += ["### Figures", ""]
        for f in spec.figures:
            lines += [
                f"![{_md(f.caption)}]({_rel(f.path, root, out_dir)})",
                "",
                f"*{f.caption}* ({figure_origin(f)})",
                "",
            ]
    lines += [
        "### Provenance",
        "",
        "| results | command | budget | share of the protocol | seeds | run records | code "
        "| last run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for part in section.parts:
        seeds, kinds, code, date = _part_cells(part)
        readme = _rel(f"{part.spec.path}/README.md", root, out_dir)
        cells = [
            f"[{part.spec.path}]({readme})",
            f"`{part.spec.command}`" if part.spec.command else "–",
            part.spec.budget or "–",
            _part_budget(part),
            seeds,
            kinds,
            code,
            date,
        ]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return [*lines, ""]


def markdown_page(report: Report, root: Path, out_dir: Path) -> str:
    s = report.summary
    lines = [
        f"# {TITLE}",
        "",
        "Every table beside its paper, every claim with its verdict, the figures and how each "
        "number was made. Generated by `make report` (`python -m topoexp.report`) from the "
        "run records committed under `results/*/runs/` and `conf/report/*.yaml`; the same page "
        "as HTML: `index.html`.",
        "",
        "## Summary",
        "",
        f"**{_summary_line(s)}**",
        "",
        "| paper | cells within / compared | context cells | "
        + " | ".join(COLUMNS)
        + " | budget |",
        "|---|---|---|" + "---|" * len(COLUMNS) + "---|",
    ]
    for x in report.sections:
        v = x.summary.verdicts
        lines.append(
            f"| [{_md(x.spec.title)}](#{slug(x.spec.title)}) | {x.summary.cells_within} / "
            f"{x.summary.cells_compared} | {x.summary.cells_context} | "
            + " | ".join(str(v[c]) for c in COLUMNS)
            + f" | {_budget(x.summary)} |"
        )
    lines.append("")
    for section in report.sections:
        lines += _md_section(section, root, out_dir)
    return "\n".join(lines).rstrip() + "\n"


def verdicts_markdown(section: Section, part: ResultsPart) -> str:
    """``<results>/verdicts.md``: the claims of ``part`` decided by rules (empty if none)."""
    decided = list(part.claims)
    if not decided:
        return ""
    lines = [
        f"# Verdicts: {section.spec.title}",
        "",
        f"Computed by `make report` from the rules in `conf/report/{section.spec.source_file}` "
        "(topoexp/report/verdicts.py); the README quotes these, never the other way round.",
        "",
        "| claim | verdict | numbers |",
        "|---|---|---|",
    ]
    lines += [f"| {_md(c.claim)} | **{c.verdict}** | {_md(c.numbers)} |" for c in decided]
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- verdicts: written by make report -->", "<!-- /verdicts -->"


def verdict_lines(part: ResultsPart) -> list[str]:
    """One bullet per rule-decided claim of ``part``: the claim and its computed verdict."""
    return [f"- {c.claim}: **{c.verdict}**" for c in part.claims]


def with_verdicts(readme: str, section: Section, part: ResultsPart) -> str:
    """``readme`` with its verdicts block (between the markers) set to the computed verdicts;
    a README without the block gets a ``## Verdicts`` section at the end; every inline verdict
    marker (:mod:`topoexp.report.claims`) gets its claim's computed verdict."""
    readme = fill_markers(
        readme, {c.id: c.verdict for c in part.claims}, f"{part.spec.path}/README.md"
    )
    block = "\n".join(
        [
            BEGIN,
            f"Decided by the rules of `conf/report/{section.spec.source_file}` from the tables "
            "(numbers and budgets: `verdicts.md`):",
            "",
            *verdict_lines(part),
            END,
        ]
    )
    if BEGIN in readme and END in readme:
        head, rest = readme.split(BEGIN, 1)
        return head + block + rest.split(END, 1)[1]
    return readme.rstrip() + "\n\n## Verdicts\n\n" + block + "\n"
