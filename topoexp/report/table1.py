"""TopoAE Table-1 runs (and the reproduction study's) into committed run records.

``python -m topoexp.report.table1 --dataset spheres --runs multirun/spheres --out results/spheres``
collects every completed run below ``--runs`` (``metrics.json`` + ``config.yaml``, status
completed), checks that the runs of one method differ only in their seed, and copies each run's
record into ``<out>/runs/<method>_<seed>/`` (:func:`topoexp.report.records.export_run`; the
first seed's ``latents.npz`` with it, for the latent figure). The tables, the figure and the
claims are then made by ``make report`` (``conf/report/topoae.yaml``) from the records.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import yaml

from topoexp.config.flatten import flatten
from topoexp.records import run_state
from topoexp.report.records import export_run

__all__ = ["PoolingError", "build", "check_poolable", "collect_runs", "export"]


#: Config keys that may differ between the runs pooled into one row (besides the seed).
POOLABLE = ("seed", "paths", "logger", "hydra", "trainer.progress", "trainer.num_threads",
            "trainer.resume", "trainer.resume_allow", "evaluator.plot")  # fmt: skip


class PoolingError(ValueError):
    """Runs of one method differ in their config beyond the seed: they are not one row."""


def _poolable(key: str) -> bool:
    return any(key == p or key.startswith(p + ".") for p in POOLABLE)


def check_poolable(configs: Mapping[str, dict]) -> None:
    """Raise :class:`PoolingError` naming the keys in which configs of one row differ."""
    flats = {run: flatten(cfg) for run, cfg in configs.items()}
    first_run, first = next(iter(flats.items()))
    for run, flat in flats.items():
        keys = sorted(
            k
            for k in first.keys() | flat.keys()
            if not _poolable(k) and first.get(k) != flat.get(k)
        )
        if keys:
            shown = ", ".join(f"{k} ({first.get(k)!r} vs {flat.get(k)!r})" for k in keys[:8])
            raise PoolingError(
                f"runs {first_run} and {run} of method {first['method']!r} differ in {shown}: "
                "they are different settings, not seeds of one; pass them separately"
            )


def collect_runs(runs_dir: Path) -> pd.DataFrame:
    """One row per completed run: method, dataset, seed, run directory and its metrics.

    Runs whose ``status.json`` is not ``completed`` (failed, interrupted, still running) are
    left out and listed on stderr.
    """
    rows = []
    for metrics_file in sorted(runs_dir.rglob("metrics.json")):
        run_dir = metrics_file.parent
        state = run_state(run_dir)
        if state not in ("completed", "missing"):  # "missing": written before status records
            print(f"skipping {state} run {run_dir}", file=sys.stderr)
            continue
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
        metrics = json.loads(metrics_file.read_text())
        rows.append(
            {
                "method": cfg["method"],
                "dataset": cfg["dataset"]["name"],
                "seed": cfg["seed"],
                "run_dir": str(run_dir),
                "config": cfg,
                **metrics,
            }
        )
    if not rows:
        raise FileNotFoundError(
            f"no completed runs (metrics.json + status completed) below {runs_dir}"
        )
    return pd.DataFrame(rows)


def export(runs: pd.DataFrame, records_dir: Path) -> list[Path]:
    """Each run's record into ``records_dir``, the first seed of each method with its latents."""
    first = runs.groupby("method")["seed"].transform("min")
    return [
        export_run(Path(run["run_dir"]), records_dir, arrays=("latents.npz",) if keep else ())
        for (_, run), keep in zip(runs.iterrows(), runs["seed"] == first, strict=True)
    ]


def build(
    dataset: str,
    runs_dir: Path | Sequence[Path],
    out_dir: Path,
    reference_csv: Path | None = None,
    metrics: Sequence[str] = (),
    reference_columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The completed runs of ``dataset`` below ``runs_dir``, checked and copied into
    ``out_dir/runs``; returns them. (``reference_csv``, ``metrics`` and ``reference_columns``
    are the report spec's now: accepted, unused.)"""
    del reference_csv, metrics, reference_columns
    runs_dirs = [runs_dir] if isinstance(runs_dir, Path) else list(runs_dir)
    found = []
    for directory in runs_dirs:
        try:
            found.append(collect_runs(directory))
        except FileNotFoundError as error:  # one folder without runs: said, not fatal
            print(f"skipping {directory}: {error}", file=sys.stderr)
    runs = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=["dataset"])
    runs = runs[runs["dataset"] == dataset]
    if runs.empty:
        raise FileNotFoundError(f"no completed {dataset} runs below {runs_dirs}")
    for _, group in runs.groupby("method"):
        check_poolable(dict(zip(group["run_dir"], group["config"], strict=True)))
    export(runs, out_dir / "runs")
    return runs.drop(columns=["config"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument(
        "--runs",
        type=Path,
        nargs="+",
        required=True,
        help="directories searched for run directories",
    )
    parser.add_argument("--out", type=Path, required=True, help="results/<paper>; records: runs/")
    parser.add_argument("--reference", type=Path, default=None, help="unused (the report spec's)")
    parser.add_argument("--metrics", nargs="+", default=[], help="unused (the report spec's)")
    parser.add_argument("--reference-column", action="append", default=[], help="unused")
    args = parser.parse_args(argv)
    try:
        runs = build(args.dataset, args.runs, args.out)
    except PoolingError as error:
        sys.exit(f"error: {error}")
    print(f"{len(runs)} run records in {args.out / 'runs'}; `make report` rebuilds the tables")


if __name__ == "__main__":
    main()
