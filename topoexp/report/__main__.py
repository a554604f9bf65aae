"""``python -m topoexp.report``: every table, figure and claim from the committed run records.

Reads ``conf/report/*.yaml`` (one spec per paper) and the run records under
``results/<paper>/runs/`` (:mod:`topoexp.report.records`), and writes ``results/index.html``,
``results/README.md``, each table as ``<results>/tables/<id>.md`` and ``.csv``
(:mod:`topoexp.report.writer`), the figures drawn from records (:mod:`topoexp.report.figures`),
each results directory's ``verdicts.md`` and its README's verdicts. Needs no run directories, no
network and no data sets. ``--into DIR`` writes the same files under ``DIR`` instead of the
repository (the same layout), e.g. to compare them with the committed ones.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from topoexp import io
from topoexp.report.figures import write_figures
from topoexp.report.page import Report, build_report
from topoexp.report.render import html_page, markdown_page, verdicts_markdown, with_verdicts
from topoexp.report.spec import SpecError
from topoexp.report.writer import write_tables

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_report(root: Path, into: Path | None = None, specs_dir: Path | None = None) -> Report:
    """Build the report from ``root`` and write every output under ``into`` (default: ``root``),
    at the paths it has in the repository."""
    into = into or root
    report = build_report(root, specs_dir)
    results = root / "results"
    io.write_text(into / "results" / "index.html", html_page(report, root, results))
    io.write_text(into / "results" / "README.md", markdown_page(report, root, results))
    write_tables(report, into)
    write_figures([s.spec for s in report.sections], root, into)
    for section in report.sections:
        for part in section.parts:
            text = verdicts_markdown(section, part)
            if text:
                io.write_text(into / part.spec.path / "verdicts.md", text)
                readme = (root / part.spec.path / "README.md").read_text()
                io.write_text(
                    into / part.spec.path / "README.md", with_verdicts(readme, section, part)
                )
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    parser.add_argument("--specs", type=Path, default=None, help="spec folder (conf/report)")
    parser.add_argument(
        "--into", type=Path, default=None, help="write under this folder, not the repository"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    into = (args.into or root).resolve()
    out = into / "results"
    started = time.perf_counter()
    try:
        report = write_report(root, into, args.specs)
    except (SpecError, ValueError, FileNotFoundError, KeyError) as error:
        sys.exit(f"error: {error}")
    s = report.summary
    print(
        f"wrote {out / 'index.html'} and {out / 'README.md'}: {len(report.sections)} sections, "
        f"{s.cells_within} of {s.cells_compared} cells compared within tolerance, claims: "
        + ", ".join(f"{n} {v}" for v, n in sorted(s.verdicts.items()))
        + " "
        f"({time.perf_counter() - started:.1f} s)"
    )


if __name__ == "__main__":
    main()
