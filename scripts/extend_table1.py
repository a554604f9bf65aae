"""Add runs to a committed Table-1 results directory and rebuild its table.

The committed ``runs.csv`` holds every earlier run's metrics (their run directories are not
committed); this adds the completed runs below ``--runs`` (a run already in ``runs.csv``, the
same method and seed, is replaced), copies each added run's record (config, metrics, status,
provenance) into ``<out>/runs/<method>_<seed>/``, and rewrites ``table.md``, ``table.csv`` and
``runs.csv`` with :mod:`topoexp.report.table1`'s aggregation and comparison. ``latents.png`` is
left as it is (it shows the first seed, which is unchanged).

    python scripts/extend_table1.py --dataset mnist --runs multirun/mnist-extra \
        --out results/mnist --reference results/reference/topoae_table1.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from topoexp import io
from topoexp.report.table1 import aggregate, collect_runs, compare, markdown

RECORD_FILES = ("config.yaml", "metrics.json", "status.json", "provenance.json")


def redact(text: str, paths: dict[str, str]) -> str:
    """``text`` with the machine's folders of the run replaced by ``<output_dir>``,
    ``<data_dir>``, ``<root_dir>`` (a committed record names no machine's paths)."""
    for name in ("output_dir", "data_dir", "results_dir", "root_dir"):
        folder = paths.get(name)
        if folder:
            text = text.replace(str(folder), f"<{name}>")
    return text


def extend(dataset: str, runs_dir: Path, out_dir: Path, reference_csv: Path) -> pd.DataFrame:
    committed = pd.read_csv(out_dir / "runs.csv")
    added = collect_runs(runs_dir)
    added = added[added["dataset"] == dataset]
    for _, row in added.iterrows():
        record = out_dir / "runs" / f"{row['method']}_{row['seed']}"
        record.mkdir(parents=True, exist_ok=True)
        paths = row["config"].get("paths", {})
        for name in RECORD_FILES:
            source = Path(row["run_dir"]) / name
            if source.is_file():
                (record / name).write_text(redact(source.read_text(), paths))
    added = added.drop(columns=["run_dir", "config"])
    key = ["method", "seed"]
    kept = committed.merge(added[key], on=key, how="left", indicator=True)
    committed = committed[(kept["_merge"] == "left_only").to_numpy()]
    runs = pd.concat([committed, added[committed.columns.intersection(added.columns)]])
    runs = runs.sort_values(["method", "seed"], kind="stable").reset_index(drop=True)
    table = aggregate(runs)
    long = compare(table, pd.read_csv(reference_csv), dataset)
    io.write_text(out_dir / "table.md", markdown(table, long))
    io.write_text(out_dir / "table.csv", long.to_csv(index=False))
    io.write_text(out_dir / "runs.csv", runs.to_csv(index=False))
    return long


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--reference", type=Path, default=Path("results/reference/topoae_table1.csv")
    )
    args = parser.parse_args(argv)
    extend(args.dataset, args.runs, args.out, args.reference)
    print(f"rebuilt {args.out / 'table.md'}")


if __name__ == "__main__":
    main()
