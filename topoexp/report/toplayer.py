"""The TopologyLayer paper's figures and run records, from optimise runs and sweep outputs.

``python -m topoexp.report.toplayer --runs multirun/toplayer --regression DIR --out DIR``
reads the optimise runs below ``--runs`` (``config.yaml`` + ``parameters.npz``) and writes
``figure1.png`` ... ``figure7.png``, ``noisy_circle.png`` and ``optimise_metrics.json``; copies each
regression sweep of ``--regression`` (``<tag>_protocol.json``, ``_summary.csv``, ``_trials.csv``)
into a run record ``<out>/runs/regression/<tag>/`` and the SPHERES runs of the signature loss
over dimensions 0 and 1 (``--signature``) into ``<out>/runs/signature_h01/``. The regression
tables, Figures 5 and 6, the signature tables and the claims are made by ``make report`` from the
records (``conf/report/topology_layer.yaml``).
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from topoexp.optimise.figures import draw_parameters
from topoexp.plotting.figures import plt
from topoexp.records import provenance, run_state
from topoexp.report.records import export_run, write_record

__all__ = ["collect_optimise_runs", "main", "regression_figure", "regression_record"]

METHOD_LABELS = {
    "ols": "OLS",
    "l1": "L1",
    "l2": "L2",
    "tv": "TV",
    "smooth_tv": "TV2 (smooth)",
    "top1": "Top1",
    "top2": "Top2",
}
NLDR = ("kl_0.01", "kl_0.1", "kl_1", "mrre", "cont", "trust", "rmse", "data_mse")


def collect_optimise_runs(runs_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """``method → {initial, final, snapshots..., metrics}`` of every completed optimise run."""
    out: dict[str, dict] = {}
    for cfg_path in sorted(runs_dir.rglob("config.yaml")):
        run = cfg_path.parent
        if not (run / "parameters.npz").exists() or not (run / "metrics.json").exists():
            continue
        cfg = yaml.safe_load(cfg_path.read_text())
        arrays = dict(np.load(run / "parameters.npz"))
        arrays["metrics"] = json.loads((run / "metrics.json").read_text())
        out[cfg["method"]] = arrays
    return out


def _grid(panels: list[list[tuple[str, np.ndarray | None]]], kind: str, three_d: bool = False):
    rows, cols = len(panels), max(len(r) for r in panels)
    fig = plt.figure(figsize=(3.0 * cols, 3.0 * rows))
    for i, row in enumerate(panels):
        for j, (title, theta) in enumerate(row):
            if theta is None:
                continue
            kw = {"projection": "3d"} if three_d else {}
            ax = fig.add_subplot(rows, cols, i * cols + j + 1, **kw)
            draw_parameters(ax, theta, kind, title)
    fig.tight_layout()
    return fig


def point_figures(runs: dict) -> dict:
    """Figure 1 (weak alpha, 2 × 3 as in the paper) and Figure 2 (Rips on the chair)."""
    figs = {}

    def final(name: str):
        return runs[name]["final"] if name in runs else None

    start = next((r["initial"] for k, r in runs.items() if k.startswith("points_")), None)
    if start is not None:
        figs["figure1"] = _grid(
            [
                [
                    ("increase E(2,0,2;PD0)", final("points_increase_h0")),
                    ("start: 100 uniform points", start),
                    ("decrease E(2,0,2;PD0)", final("points_decrease_h0")),
                ],
                [
                    ("increase E(2,0,1;PD1)", final("points_increase_h1")),
                    (
                        "incr. E(2,1,1;PD1), decr. E(2,0,2;PD0)",
                        final("points_increase_h1_decrease_h0"),
                    ),
                    ("decrease E(2,0,1;PD1)", final("points_decrease_h1")),
                ],
            ],
            "points",
        )
    chair = next((r["initial"] for k, r in runs.items() if k.startswith("chair_")), None)
    if chair is not None:
        figs["figure2"] = _grid(
            [
                [
                    ("(a) points in a chair", chair),
                    ("(b) decrease E(1,0,2;PD0)", final("chair_decrease_h0")),
                    ("(c) increase E(1,0,2;PD0)", final("chair_increase_h0")),
                ]
            ],
            "points",
            three_d=True,
        )
    return figs


def image_figures(runs: dict, true_images: dict[str, np.ndarray]) -> dict:
    """Figure 3 (noisy 2 → one maximum), Figure 7 and the README's noisy circle."""
    figs = {}
    if "mnist_single_component" in runs:
        r = runs["mnist_single_component"]
        snaps = sorted((k for k in r if k.startswith("step_")), key=lambda k: int(k[5:]))
        figs["figure3"] = _grid(
            [
                [("(a) noisy '2'", r["initial"])]
                + [(f"step {k[5:]}", r[k]) for k in snaps]
                + [("(b) one maximum: E(1,0,2;PD0)", r["final"])]
            ],
            "image",
        )
    for name, fig_name in (("image_regression_fig7", "figure7"), ("noisy_circle", "noisy_circle")):
        if name in runs:
            r = runs[name]
            figs[fig_name] = _grid(
                [
                    [
                        ("true β*", true_images.get("ring")),
                        (f"OLS (‖β̂−β*‖² {r['metrics']['initial_beta_error']:.3g})", r["initial"]),
                        (f"topological ({r['metrics']['beta_error']:.3g})", r["final"]),
                    ]
                ],
                "image",
            )
    return figs


def regression_figure(summary: pd.DataFrame, betas: Sequence[str], ylabel: str):
    """Error against n per method (log scale), mean with the spread over trials shaded."""
    fig, axes = plt.subplots(1, len(betas), figsize=(4.2 * len(betas), 3.4), squeeze=False)
    for ax, kind in zip(axes[0], betas, strict=True):
        part = summary[summary.beta == kind]
        for method in METHOD_LABELS:
            m = part[part.method == method].sort_values("n")
            if m.empty:
                continue
            (line,) = ax.plot(m.n, m["mean"], marker="o", ms=3, label=METHOD_LABELS[method])
            ax.fill_between(m.n, m.q_lo, m.q_hi, color=line.get_color(), alpha=0.12)
        ax.set_yscale("log")
        ax.set_xlabel("n (training samples)")
        ax.set_title({"123": "β* from {1, 2, 3}", "101": "β* from {−1, 0, 1}"}.get(kind, kind))
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def regression_record(sweep: Path, tag: str, records: Path) -> Path:
    """The sweep ``tag`` of the folder ``sweep`` as a run record ``records/<tag>/``: its protocol
    as the config, its seconds as the metric, its summary and trials as arrays. The sweep records
    no provenance: the record's is that of this process (the commit when it was copied)."""
    config = json.loads((sweep / f"{tag}_protocol.json").read_text())
    seconds = config.pop("seconds", None)
    config = {"method": f"regression_{config['name']}", "seed": config.get("seed")} | config
    facts = {"note": "provenance of the copy, made after the sweep (which records none)"}
    record = write_record(
        records / tag,
        config,
        {"seconds": seconds} if seconds is not None else {},
        {"status": "completed"},
        {**provenance(), **facts},
    )
    for name in ("summary", "trials"):
        shutil.copyfile(sweep / f"{tag}_{name}.csv", record / f"{name}.csv")
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, help="folder of the optimise runs")
    parser.add_argument(
        "--regression", type=Path, help="folder of the sweep's CSV files, or of its run records"
    )
    parser.add_argument("--signature", type=Path, help="SPHERES runs of loss.signature.dims")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    figs: dict = {}
    if args.runs is not None and args.runs.is_dir():
        from topoexp.data.regression import ring_image

        runs = collect_optimise_runs(args.runs)
        figs |= point_figures(runs) | image_figures(runs, {"ring": ring_image(50).numpy()})
        metrics = {k: v["metrics"] for k, v in runs.items()}
        (out / "optimise_metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    if args.regression is not None:
        for path in sorted(args.regression.glob("*_summary.csv")):
            tag = path.name.removesuffix("_summary.csv")
            print(regression_record(args.regression, tag, out / "runs" / "regression"))
    if args.signature is not None and args.signature.is_dir():
        for metrics in sorted(args.signature.rglob("metrics.json")):
            if run_state(metrics.parent) == "completed":
                print(export_run(metrics.parent, out / "runs" / "signature_h01"))
    for name, fig in figs.items():
        fig.savefig(out / f"{name}.png", dpi=130, bbox_inches="tight")
        plt.close(fig)
    print(f"wrote {len(figs)} figures; `make report` rebuilds the tables and claims")


if __name__ == "__main__":
    main()
