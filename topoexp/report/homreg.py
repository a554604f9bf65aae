"""results/homreg from the generative runs: table, sample grids, latent scatters, metric plots.

    python -m topoexp.report.homreg --runs multirun/homreg --out results/homreg

Reads every completed run below ``--runs`` (``config.yaml``, ``metrics.json``, ``samples.npz``,
``latents.npz``) and writes

- ``table.csv`` (mean, std and seed count per data set × model × latent size and metric) and
  ``table.md`` (mean ± std);
- ``grids_<data>.png``: the paper's tables (rows latent size, columns AE, AE + Reg, VAE), the first
  64 samples of the lowest seed; ``ablation_mnist.png``: the disk penalty alone beside AE + Reg;
- ``latents_<data>.png``: the latent scatters at latent size 2 (Figures 2, 3, 6), unit circle drawn;
- ``metrics_<data>.png``: each metric against the latent size per model, the floor dashed;
- ``claims.md``: the numbers each claim of the paper is decided on; ``provenance.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from topoexp import io
from topoexp.records import run_state

__all__ = ["aggregate", "claims", "collect", "main", "markdown"]

MODELS = ("ae", "ae_reg", "vae", "ae_ball", "ae_ballprior")
LABELS = {
    "ae": "AE",
    "ae_reg": "AE + Reg",
    "vae": "VAE",
    "ae_ball": "disk only",
    "ae_ballprior": "AE, ball prior",
    "floor": "floor",
}
DATASETS = {"mnist": "MNIST", "fmnist": "Fashion-MNIST"}
LATENTS = (2, 5, 10)
#: Table columns; lower is better for the first two and reconstruction_bce.
METRICS = (
    "fid",
    "kid_mean",
    "precision",
    "recall",
    "density",
    "coverage",
    "inception_score",
    "class_entropy",
    "classes_covered",
    "reconstruction_bce",
    "fraction_in_ball",
    "total_persistence0",
    "epoch_s",
)
PLOTTED = ("fid", "kid_mean", "precision", "recall", "coverage", "classes_covered")


def collect(runs_dir: Path) -> pd.DataFrame:
    """One row per completed run: data set, method, latent size, seed, settings and metrics."""
    rows = []
    for metrics_file in sorted(runs_dir.rglob("metrics.json")):
        run_dir = metrics_file.parent
        if run_state(run_dir) != "completed":
            print(f"skipping {run_state(run_dir)} run {run_dir}", file=sys.stderr)
            continue
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
        if cfg.get("paper") != "homreg":
            continue
        floor = bool(cfg["task"].get("floor"))
        rows.append(
            {
                "dataset": cfg["dataset"]["name"],
                "method": "floor" if floor else cfg["method"],
                "latent": 0 if floor else int(cfg["model"]["latent_dim"]),
                "seed": int(cfg["seed"]),
                "epochs": None if floor else int(cfg["trainer"]["max_epochs"]),
                "batch_size": None if floor else int(cfg["trainer"]["batch_size"]),
                "run_dir": str(run_dir),
                **json.loads(metrics_file.read_text()),
            }
        )
    if not rows:
        raise FileNotFoundError(f"no completed homreg runs below {runs_dir}")
    return pd.DataFrame(rows)


def aggregate(runs: pd.DataFrame, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean, std (ddof 1; 0 for one seed) and seed count per (dataset, method, latent)."""
    present = [m for m in metrics if m in runs]
    grouped = runs.groupby(["dataset", "method", "latent"])[present]
    table = (
        grouped.mean()
        .add_suffix("_mean")
        .join(grouped.std(ddof=1).fillna(0.0).add_suffix("_std"))
        .join(grouped.size().rename("n_seeds"))
    )
    return table.reset_index()


def _fmt(mean: float, std: float) -> str:
    if not np.isfinite(mean):
        return "–"
    digits = 2 if abs(mean) >= 10 else 3
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _order(table: pd.DataFrame) -> pd.DataFrame:
    rank = {m: i for i, m in enumerate((*MODELS, "floor"))}
    return table.sort_values(
        ["dataset", "latent", "method"], key=lambda s: s.map(rank) if s.name == "method" else s
    )


def markdown(table: pd.DataFrame, metrics: Sequence[str] = METRICS) -> str:
    """One markdown table per data set, mean ± std over seeds; the floor last."""
    present = [m for m in metrics if f"{m}_mean" in table]
    out = []
    for data, label in DATASETS.items():
        sub = _order(table[table.dataset == data])
        if sub.empty:
            continue
        sub = pd.concat([sub[sub.method != "floor"], sub[sub.method == "floor"]])
        out += [f"### {label}", "", "| model | latent | seeds | " + " | ".join(present) + " |"]
        out.append("|" + "---|" * (3 + len(present)))
        for _, r in sub.iterrows():
            cells = [_fmt(r[f"{m}_mean"], r[f"{m}_std"]) for m in present]
            latent = "–" if r.method == "floor" else str(r.latent)
            row = [LABELS.get(r.method, r.method), latent, str(r.n_seeds), *cells]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out)


def _value(table: pd.DataFrame, data: str, method: str, latent: int, metric: str) -> float:
    hit = table[(table.dataset == data) & (table.method == method) & (table.latent == latent)]
    return float(hit[f"{metric}_mean"].iloc[0]) if len(hit) else float("nan")


def claims(table: pd.DataFrame) -> str:
    """The numbers behind each claim of the paper, as markdown."""
    lines = ["# The numbers behind each claim", ""]
    cmp = ("fid", "precision", "recall", "coverage", "classes_covered")
    for title, (a, b), datasets in (
        ("1. AE + Reg against the AE", ("ae_reg", "ae"), DATASETS),
        ("2. AE + Reg against the VAE", ("ae_reg", "vae"), DATASETS),
        ("3. Disk penalty only against AE + Reg (MNIST)", ("ae_ball", "ae_reg"), ["mnist"]),
        ("3b. Disk penalty only against the AE (MNIST)", ("ae_ball", "ae"), ["mnist"]),
    ):
        lines += [
            f"## {title}",
            "",
            "| data | latent | "
            + " | ".join(f"{m}: {LABELS[a]} vs {LABELS[b]}" for m in cmp)
            + " |",
        ]
        lines.append("|" + "---|" * (2 + len(cmp)))
        for data in datasets:
            for n in LATENTS:
                cells = [
                    f"{_value(table, data, a, n, m):.3g} vs {_value(table, data, b, n, m):.3g}"
                    for m in cmp
                ]
                if all(c.startswith("nan") for c in cells):
                    continue
                lines.append(f"| {DATASETS[data]} | {n} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## 4. Class coverage (classes with ≥ 5 % of the samples; entropy, nats)", ""]
    lines += ["| data | latent | " + " | ".join(LABELS[m] for m in MODELS) + " | floor |"]
    lines.append("|" + "---|" * (3 + len(MODELS)))
    for data in DATASETS:
        floor = (
            _value(table, data, "floor", 0, "classes_covered"),
            _value(table, data, "floor", 0, "class_entropy"),
        )
        for n in LATENTS:
            cells = [
                f"{_value(table, data, m, n, 'classes_covered'):.3g} / "
                f"{_value(table, data, m, n, 'class_entropy'):.3f}"
                for m in MODELS
            ]
            lines.append(
                f"| {DATASETS[data]} | {n} | "
                + " | ".join(cells)
                + f" | {floor[0]:.3g} / {floor[1]:.3f} |"
            )
    lines += ["", "## 5. Seconds per training epoch (batch 128, these runs)", ""]
    lines += [
        "| data | latent | AE | AE + Reg | ratio | disk only | VAE |",
        "|---|---|---|---|---|---|---|",
    ]
    for data in DATASETS:
        for n in LATENTS:
            ae, reg = (_value(table, data, m, n, "epoch_s") for m in ("ae", "ae_reg"))
            ball, vae = (_value(table, data, m, n, "epoch_s") for m in ("ae_ball", "vae"))
            if np.isfinite(ae) or np.isfinite(reg):
                lines.append(
                    f"| {DATASETS[data]} | {n} | {ae:.2f} | {reg:.2f} | "
                    f"{reg / ae:.2f}× | {ball:.2f} | {vae:.2f} |"
                )
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- figures


def _first_seed(runs: pd.DataFrame, data: str, method: str, latent: int) -> pd.Series | None:
    hit = runs[(runs.dataset == data) & (runs.method == method) & (runs.latent == latent)]
    return None if hit.empty else hit.sort_values("seed").iloc[0]


def _samples(run: pd.Series | None, n: int = 64) -> np.ndarray | None:
    if run is None or not (Path(run.run_dir) / "samples.npz").exists():
        return None
    with np.load(Path(run.run_dir) / "samples.npz") as f:
        return f["samples"][:n]


def sample_grids(runs: pd.DataFrame, data: str, methods: Sequence[str]) -> Figure:
    from topoexp.plotting.grids import tiled_grids

    cells = {
        (str(n), LABELS[m]): _samples(_first_seed(runs, data, m, n))
        for n in LATENTS
        for m in methods
    }
    epochs = sorted({int(e) for e in runs.epochs.dropna()})
    return tiled_grids(
        cells,
        [str(n) for n in LATENTS],
        [LABELS[m] for m in methods],
        f"{DATASETS[data]}: prior samples (first seed; {'/'.join(map(str, epochs))} epochs)",
    )


def latent_scatters(runs: pd.DataFrame, data: str) -> Figure:
    from topoexp.plotting.figures import scatter_latents

    methods = [m for m in MODELS if _first_seed(runs, data, m, 2) is not None]
    fig = Figure(figsize=(3.2 * max(1, len(methods)), 3.4))
    axes = fig.subplots(1, max(1, len(methods)), squeeze=False)[0]
    t = np.linspace(0, 2 * np.pi, 200)
    for ax, m in zip(axes, methods, strict=False):
        run = _first_seed(runs, data, m, 2)
        with np.load(Path(run.run_dir) / "latents.npz") as f:
            scatter_latents(ax, f["latents"], f["labels"], f"{LABELS[m]}, latent 2")
        ax.plot(np.cos(t), np.sin(t), color="k", linewidth=0.6)
        ax.set_aspect("equal", adjustable="datalim")
    fig.suptitle(f"{DATASETS[data]}: 512 training images (unit circle in black)")
    fig.tight_layout()
    return fig


def metric_plots(table: pd.DataFrame, data: str) -> Figure:
    fig = Figure(figsize=(13, 6.5))
    axes = fig.subplots(2, 3).ravel()
    sub = table[table.dataset == data]
    for ax, metric in zip(axes, PLOTTED, strict=True):
        for m in MODELS:
            rows = sub[sub.method == m].sort_values("latent")
            if len(rows):
                ax.errorbar(
                    rows.latent,
                    rows[f"{metric}_mean"],
                    rows[f"{metric}_std"],
                    marker="o",
                    capsize=3,
                    label=LABELS[m],
                )
        floor = sub[sub.method == "floor"]
        if len(floor):
            ax.axhline(floor[f"{metric}_mean"].iloc[0], color="0.4", ls="--", label="floor")
        ax.set_xticks(LATENTS)
        ax.set_xlabel("latent size")
        ax.set_title(metric)
        if metric in ("fid", "kid_mean"):
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{DATASETS[data]}: sample quality in the classifier's feature space")
    fig.tight_layout()
    return fig


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def build(runs_dir: Path, out_dir: Path) -> pd.DataFrame:
    """Write everything of the module docstring into ``out_dir``; return the aggregated table."""
    runs = collect(runs_dir)
    table = aggregate(runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    io.write_text(out_dir / "table.csv", table.to_csv(index=False))
    io.write_text(out_dir / "table.md", markdown(table))
    io.write_text(out_dir / "claims.md", claims(table))
    for data in sorted(set(runs.dataset)):
        figures = {
            f"grids_{data}": sample_grids(runs, data, ("ae", "ae_reg", "vae")),
            f"metrics_{data}": metric_plots(table, data),
        }
        if (runs[runs.dataset == data].latent == 2).any():
            figures[f"latents_{data}"] = latent_scatters(runs, data)
        if data == "mnist" and (runs.method == "ae_ball").any():
            figures["ablation_mnist"] = sample_grids(runs, data, ("ae", "ae_ball", "ae_reg"))
        for name, fig in figures.items():
            io.save_figure(out_dir / f"{name}.png", fig, dpi=120, bbox_inches="tight")
    settings = runs.groupby(["dataset", "method", "latent"]).agg(
        seeds=("seed", lambda s: sorted(int(v) for v in s)),
        epochs=("epochs", "first"),
        batch_size=("batch_size", "first"),
    )
    io.write_json(
        out_dir / "provenance.json",
        {
            "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "git_commit": _git_commit(),
            "runs_dir": str(runs_dir),
            "n_runs": len(runs),
            "runs": [
                {"dataset": d, "method": m, "latent": int(n), **{k: v for k, v in r.items()}}
                for (d, m, n), r in settings.to_dict("index").items()
            ],
        },
    )
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("multirun/homreg"))
    parser.add_argument("--out", type=Path, default=Path("results/homreg"))
    args = parser.parse_args(argv)
    table = build(args.runs, args.out)
    print(markdown(table))


if __name__ == "__main__":
    main()
