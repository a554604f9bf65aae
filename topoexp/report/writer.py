"""The one table writer: every spec table as ``<out>.md`` and ``<out>.csv``.

``<out>`` is the table's ``out`` in its spec, by default ``<results directory>/tables/<id>``.
The Markdown is the table as the report shows it (cells ``ours ± std (paper ...)``, the legend,
where its numbers come from); the CSV is its long form, one line per cell: the row's keys, the
metric, ours (mean, std over the runs, their number ``runs``), the paper's value and std, the
relative deviation, whether it is within the tolerance, the tolerance and its source.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from topoexp import io
from topoexp.report.page import BuiltTable, Report
from topoexp.report.render import md_table

__all__ = ["table_csv", "table_markdown", "write_tables"]


def table_markdown(table: BuiltTable, paper: str) -> str:
    lines = [f"# {paper}: {table.spec.title}", ""]
    lines += [
        "Written by `make report` (`python -m topoexp.report`) from the table's spec "
        f"(`{table.spec.id}`) and its source.",
        "",
    ]
    lines += md_table(table)[2:]  # without its own heading
    return "\n".join(lines).rstrip() + "\n"


def table_csv(table: BuiltTable) -> str:
    """One line per cell: the row's keys, then the cell (its run count as ``runs``, as the
    Markdown's column, so that a row key ``n`` keeps its name)."""
    long = table.long.rename(columns={"n": "runs"})
    keys = pd.DataFrame(long["row"].tolist(), columns=table.spec.rows, index=long.index)
    return pd.concat([keys, long.drop(columns=["row"])], axis=1).to_csv(index=False)


def write_tables(report: Report, into: Path) -> list[Path]:
    """Every table of ``report`` under ``into`` (the repository, or a copy of its layout)."""
    written = []
    for section in report.sections:
        for table in section.tables:
            out = into / table.out  # ids may hold dots: no with_suffix
            md = table_markdown(table, section.spec.title)
            written.append(io.write_text(out.parent / f"{out.name}.md", md))
            written.append(io.write_text(out.parent / f"{out.name}.csv", table_csv(table)))
    return written
