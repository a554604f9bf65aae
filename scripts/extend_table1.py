"""Add runs to a committed Table-1 results directory: copy their records into ``<out>/runs/``.

The tables are made by ``make report`` from the records under ``results/<data>/runs/``; this
copies the completed runs below ``--runs`` into it (a record of the same method and seed is
replaced) with :func:`topoexp.report.table1.build` (the runs of one method must differ only in
their seed; the first seed's latents are kept), then rebuilds the report.

    python scripts/extend_table1.py --dataset mnist --runs multirun/mnist-extra --out results/mnist
"""

from __future__ import annotations

import argparse
from pathlib import Path

from topoexp.report.__main__ import REPO_ROOT, write_report
from topoexp.report.table1 import build


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reference", type=Path, default=None, help="unused (the report spec's)")
    parser.add_argument("--no-report", action="store_true", help="copy the records only")
    args = parser.parse_args(argv)
    runs = build(args.dataset, args.runs, args.out)
    print(f"{len(runs)} run records copied into {args.out / 'runs'}")
    if not args.no_report:
        write_report(REPO_ROOT)
        print("rebuilt the report (make report)")


if __name__ == "__main__":
    main()
