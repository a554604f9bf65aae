"""Paper tables (TopoAE Table 1, the study's Table 1) from run directories, beside the papers.

``python -m topoexp.report.table1 --dataset spheres --runs multirun/spheres --out results/spheres``
collects every completed run below ``--runs`` (``metrics.json`` + ``config.yaml``), aggregates per
method over seeds (``np.std`` with ddof=0, as the original tables), and writes ``table.md``,
``table.csv``, ``runs.csv``, a latent-space figure (one panel per method, the first seed) and
``provenance.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from topoexp import io
from topoexp.config.flatten import flatten
from topoexp.plotting.figures import plt, scatter_latents
from topoexp.records import run_state
from topoexp.report import tables

METRICS = ("kl_0.01", "kl_0.1", "kl_1", "mrre", "cont", "trust", "rmse", "data_mse")
METHOD_ORDER = ("isomap", "pca", "tsne", "umap", "ae", "topoae", "topopca")
LABELS = {
    "isomap": "Isomap",
    "pca": "PCA",
    "tsne": "t-SNE",
    "umap": "UMAP",
    "ae": "AE",
    "topoae": "TopoAE",
    "topopca": "TopoPCA",
}
TOLERANCE = tables.Tolerance("relative", 0.20)  # cells further than ±20 % are flagged


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


def aggregate(runs: pd.DataFrame, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean and population std (ddof=0) per method for every metric present."""
    table = tables.aggregate(runs, ["method"], metrics, order=METHOD_ORDER)
    table.index = [key[0] for key in table.index]
    return table.rename(columns={"n": "n_seeds"})


_fmt = tables.fmt


def compare(
    table: pd.DataFrame,
    reference: pd.DataFrame,
    dataset: str,
    metrics: Sequence[str] = METRICS,
    reference_columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Long table: method, metric, ours (mean, std), paper, relative deviation, flag.

    ``reference_columns`` maps our metric key to the reference CSV's column where they differ.
    """
    ref = reference[reference["dataset"] == dataset] if "dataset" in reference else reference
    indexed = table.rename(columns={"n_seeds": "n"})
    indexed.index = [(method,) for method in table.index]
    long = tables.compare(
        indexed, ref, ["method"], metrics, TOLERANCE, reference_columns=reference_columns
    )
    return pd.DataFrame(
        {
            "method": [key[0] for key in long["row"]],
            "metric": long["metric"],
            "ours_mean": long["ours_mean"],
            "ours_std": long["ours_std"],
            "paper": long["paper"],
            "rel_dev": long["rel_dev"],
            "outside_20pct": [w is False for w in long["within"]],
        }
    )


def markdown(table: pd.DataFrame, long: pd.DataFrame, metrics: Sequence[str] = METRICS) -> str:
    """Markdown table: each cell ``ours ± std (paper)``, flagged with † beyond ±20 %."""
    metrics = [m for m in metrics if f"{m}_mean" in table]
    header = "| method | seeds | " + " | ".join(metrics) + " |"
    lines = [header, "|" + "---|" * (len(metrics) + 2)]
    indexed = long.set_index(["method", "metric"])
    for method in table.index:
        single_seed = int(table.loc[method, "n_seeds"]) == 1  # no spread to show
        cells = []
        for metric in metrics:
            row = indexed.loc[(method, metric)]
            if not np.isfinite(row.ours_mean) and not np.isfinite(row.paper):
                cells.append("–")
                continue
            flag = " †" if row.outside_20pct else ""
            spread = "" if single_seed else f" ± {_fmt(row.ours_std)}"
            cells.append(f"{_fmt(row.ours_mean)}{spread} ({_fmt(row.paper)}){flag}")
        lines.append(
            f"| {LABELS.get(method, method)} | {int(table.loc[method, 'n_seeds'])} | "
            + " | ".join(cells)
            + " |"
        )
    lines.append("")
    lines.append(
        "Cells: ours mean ± std over seeds (a single seed: its value); the paper's value in "
        "brackets; † more than ±20 % from the paper."
    )
    return "\n".join(lines) + "\n"


def latent_figure(runs: pd.DataFrame, title: str) -> Figure:
    """One panel per method (its first seed), like the paper's Figure 3."""
    methods = [m for m in METHOD_ORDER if m in set(runs["method"])]
    fig, axes = plt.subplots(1, len(methods), figsize=(2.6 * len(methods), 2.8))
    axes = np.atleast_1d(axes)
    for ax, method in zip(axes, methods, strict=True):
        first = runs[runs["method"] == method].sort_values("seed").iloc[0]
        latents = np.load(Path(first["run_dir"]) / "latents.npz")
        scatter_latents(ax, latents["latents"], latents["labels"], LABELS.get(method, method))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def build(
    dataset: str,
    runs_dir: Path | Sequence[Path],
    out_dir: Path,
    reference_csv: Path | None,
    metrics: Sequence[str] = METRICS,
    reference_columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    runs_dirs = [runs_dir] if isinstance(runs_dir, Path) else list(runs_dir)
    runs = pd.concat([collect_runs(d) for d in runs_dirs], ignore_index=True)
    runs = runs[runs["dataset"] == dataset]
    for _, group in runs.groupby("method"):
        check_poolable(dict(zip(group["run_dir"], group["config"], strict=True)))
    runs = runs.drop(columns=["config"])
    table = aggregate(runs, metrics)
    reference = (
        pd.read_csv(reference_csv)
        if reference_csv and reference_csv.exists()
        else pd.DataFrame(columns=["dataset", "method"])
    )
    long = compare(table, reference, dataset, metrics, reference_columns)
    out_dir.mkdir(parents=True, exist_ok=True)
    io.write_text(out_dir / "table.md", markdown(table, long, metrics))
    io.write_text(out_dir / "table.csv", long.to_csv(index=False))
    io.write_text(out_dir / "runs.csv", runs.drop(columns=["run_dir"]).to_csv(index=False))
    io.save_figure(
        out_dir / "latents.png",
        latent_figure(runs, f"{dataset}: test latents (first seed)"),
        dpi=150,
    )
    io.write_json(
        out_dir / "provenance.json",
        {
            "git_commit": _git_commit(),
            "runs_dir": [str(d) for d in runs_dirs] if len(runs_dirs) > 1 else str(runs_dirs[0]),
            "methods": {m: sorted(set(g["seed"])) for m, g in runs.groupby("method")},
            "n_runs": len(runs),
            "seeds": sorted(set(runs["seed"])),
        },
    )
    return long


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
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reference", type=Path, default=None, help="paper table CSV")
    parser.add_argument("--metrics", nargs="+", default=list(METRICS), help="metric keys (columns)")
    parser.add_argument(
        "--reference-column",
        action="append",
        default=[],
        metavar="OURS=THEIRS",
        help="compare metric OURS with the reference column THEIRS",
    )
    args = parser.parse_args(argv)
    columns = dict(item.split("=", 1) for item in args.reference_column)
    try:
        long = build(args.dataset, args.runs, args.out, args.reference, args.metrics, columns)
    except PoolingError as error:
        sys.exit(f"error: {error}")
    print((args.out / "table.md").read_text())
    flagged = long[long["outside_20pct"]]
    if len(flagged):
        print(f"{len(flagged)} cells outside ±20 % of the paper:")
        print(flagged[["method", "metric", "ours_mean", "paper", "rel_dev"]].to_string(index=False))


if __name__ == "__main__":
    main()
