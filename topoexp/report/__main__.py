"""``python -m topoexp.report``: ``results/index.html`` and ``results/README.md`` from the specs.

Reads ``conf/report/*.yaml`` (one spec per paper) and the committed results; needs no run
directories, no network and no data sets.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from topoexp import io
from topoexp.report.page import build_report
from topoexp.report.render import html_page, markdown_page, verdicts_markdown, with_verdicts
from topoexp.report.spec import SpecError

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_report(root: Path, out_dir: Path, specs_dir: Path | None = None):
    """Build the report and write ``index.html`` and ``README.md`` into ``out_dir``."""
    report = build_report(root, specs_dir)
    io.write_text(out_dir / "index.html", html_page(report, root, out_dir))
    io.write_text(out_dir / "README.md", markdown_page(report, root, out_dir))
    for section in report.sections:
        for part in section.parts:
            text = verdicts_markdown(section, part)
            if text:
                io.write_text(root / part.spec.path / "verdicts.md", text)
                readme = root / part.spec.path / "README.md"
                io.write_text(readme, with_verdicts(readme.read_text(), section, part))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    parser.add_argument("--specs", type=Path, default=None, help="spec folder (conf/report)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (results)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = (args.out or root / "results").resolve()
    started = time.perf_counter()
    try:
        report = write_report(root, out, args.specs)
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
