"""The topology-layer paper's generator prior: Figure-10 table, Figures 8 and 9, claims.

``python -m topoexp.report.toplayer_generator --runs DIR --reference CSV --out DIR`` reads the
completed GAN-task runs below ``--runs`` (``config.yaml`` for the method, ``metrics.json``,
``samples.npz``, ``provenance.json``, ``history.json``) and writes

- ``table.md``: the Figure-10 metrics, ours mean ± std beside the paper's, for every stage, and
  the topological counts (fraction of single-component images, long H0 bars, topology loss);
- ``table.csv``: the same numbers, one row per stage (``<metric>_mean``, ``<metric>_std`` over the
  computations of the run, ``n_seeds`` the runs: the report's aggregated table);
- ``figure8.png``: the five panels a–e (the same latent codes in every panel);
- ``figure9.png``: latent interpolations, the topology generator above the baseline;
- ``provenance.json``: commit, seed, iterations, budget and times of every run;
- ``claims.md``: the paper's two claims decided by the rules stated there.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from topoexp import io
from topoexp.plotting.figures import plt
from topoexp.plotting.grids import image_grid
from topoexp.records import run_state

__all__ = ["claims", "collect_runs", "figure10_csv", "figure10_table", "main"]

#: Methods in the order of Figure 8 (panel letter, label).
PANELS = {
    "baseline_generator": ("a", "Baseline-Generator"),
    "latent_optimised": ("b", "latent codes optimised (generator frozen)"),
    "topology_generator": ("c", "Topology-Generator (50 iterations)"),
    "pd_discriminator": ("d", "PD0-feature discriminator (100 iterations)"),
    "gan_plus_60k": ("e", "+60,000 GAN iterations"),
}
#: Figure-10 metrics and whether larger is better.
FIGURE10 = {
    "mmd_l2": False,
    "cov_l2": True,
    "mmd_wass": False,
    "cov_wass": True,
    "inception": True,
}
TOPOLOGY = ("one_component", "h0_bars", "topology_loss")


def collect_runs(runs_dir: Path) -> dict[str, dict]:
    """``method → {metrics, provenance, history, samples, run}`` of every completed GAN run."""
    out: dict[str, dict] = {}
    for cfg_path in sorted(Path(runs_dir).rglob("config.yaml")):
        run = cfg_path.parent
        if run_state(run) != "completed" or not (run / "samples.npz").exists():
            continue
        cfg = yaml.safe_load(cfg_path.read_text())
        if cfg.get("task", {}).get("_target_", "").split(".")[-1] != "GANTask":
            continue
        hist = run / "history.json"
        out[cfg["method"]] = {
            "run": run,
            "config": cfg,
            "metrics": json.loads((run / "metrics.json").read_text()),
            "provenance": json.loads((run / "provenance.json").read_text()),
            "history": json.loads(hist.read_text()) if hist.exists() else [],
            "samples": dict(np.load(run / "samples.npz")),
        }
    return out


def _fmt(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _paper_cell(row: pd.Series | None, key: str, digits: int) -> str:
    if row is None or pd.isna(row.get(key)):
        return "–"
    return _fmt(float(row[key]), float(row[f"{key}_std"]), digits)


DIGITS = {"mmd_l2": 2, "cov_l2": 3, "mmd_wass": 3, "cov_wass": 3, "inception": 2}


def figure10_table(runs: dict[str, dict], reference: pd.DataFrame) -> str:
    """Markdown: per method, ours (mean ± std) | paper for each Figure-10 metric, then the
    topological counts."""
    paper = reference[reference["data"] == "mnist_images"].set_index("model")
    head = "| method | " + " | ".join(f"{k} ours | {k} paper" for k in FIGURE10) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(FIGURE10))]
    for method in PANELS:
        if method not in runs:
            continue
        m = runs[method]["metrics"]
        row = paper.loc[method] if method in paper.index else None
        cells = []
        for k in FIGURE10:
            cells += [_fmt(m[k], m[f"{k}_std"], DIGITS[k]), _paper_cell(row, k, DIGITS[k])]
        lines.append(f"| {PANELS[method][0]}: {method} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| method | single-component fraction | H0 bars > ε per image | E(1,0,2;PD0) per image |",
        "|---|---|---|---|",
    ]
    for method in PANELS:
        if method in runs:
            m = runs[method]["metrics"]
            cells = [_fmt(m[k], m[f"{k}_std"], 3) for k in TOPOLOGY]
            lines.append(f"| {PANELS[method][0]}: {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure10_csv(runs: dict[str, dict]) -> pd.DataFrame:
    """One row per stage: ``model``, ``data``, ``n_seeds`` (runs) and ``<metric>_mean/_std``."""
    rows = []
    for method in PANELS:
        if method in runs:
            m = runs[method]["metrics"]
            row: dict = {"model": method, "data": "mnist_images", "n_seeds": 1}
            for k in (*FIGURE10, *TOPOLOGY):
                row[f"{k}_mean"], row[f"{k}_std"] = m[k], m[f"{k}_std"]
            rows.append(row)
    return pd.DataFrame(rows)


def claims(runs: dict[str, dict]) -> list[dict]:
    """The paper's claims, each with the numbers and the rule that decides it."""
    out = []
    base, topo = runs.get("baseline_generator"), runs.get("topology_generator")
    if base and topo:
        rows, better, clear = [], 0, 0
        for k, larger in FIGURE10.items():
            b, t = base["metrics"], topo["metrics"]
            diff = t[k] - b[k] if larger else b[k] - t[k]
            noise = b[f"{k}_std"] + t[f"{k}_std"]
            better += diff > 0
            clear += diff > noise
            verdict = "better" if diff > noise else ("worse" if diff < -noise else "within noise")
            rows.append(f"{k}: baseline {b[k]:.4g}, topology {t[k]:.4g} ({verdict})")
        out.append(
            {
                "claim": "the Topology-Generator improves every Figure-10 metric",
                "rule": "each mean better than the baseline's by more than the sum of the two "
                "standard deviations over the 5 computations",
                "numbers": rows,
                "verdict": "supported"
                if clear == len(FIGURE10)
                else f"not supported ({clear} of {len(FIGURE10)} metrics clearly better, "
                f"{better} better in the mean)",
            }
        )
    more = runs.get("gan_plus_60k")
    if base and topo and more:
        f = {k: runs[k]["metrics"]["one_component"] for k in
             ("baseline_generator", "topology_generator", "gan_plus_60k")}  # fmt: skip
        bars = {k: runs[k]["metrics"]["h0_bars"] for k in f}
        ok = (
            f["topology_generator"] > f["gan_plus_60k"]
            and f["topology_generator"] > f["baseline_generator"]
        )
        out.append(
            {
                "claim": "50 iterations of the prior give single-component images where 60,000 "
                "more GAN iterations do not",
                "rule": "the single-component fraction of the Topology-Generator exceeds both the "
                "baseline's and the +60k generator's",
                "numbers": [
                    f"single-component fraction: {k} {v:.3f}, H0 bars > ε {bars[k]:.2f}"
                    for k, v in f.items()
                ],
                "verdict": "supported" if ok else "not supported",
            }
        )
    return out


def _panel(ax, images: np.ndarray, title: str) -> None:
    ax.imshow(image_grid((images + 1) / 2, ncol=8), cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()


def figure8(runs: dict[str, dict]):
    present = [m for m in PANELS if m in runs]
    fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present), 3.6), squeeze=False)
    for ax, method in zip(axes[0], present, strict=True):
        letter, label = PANELS[method]
        _panel(ax, runs[method]["samples"]["grid"][:64], f"({letter}) {label}")
    fig.tight_layout()
    return fig


def figure9(runs: dict[str, dict]):
    topo = runs["topology_generator"]["samples"]["interpolation"]
    base = runs["baseline_generator"]["samples"]["interpolation"]
    n = len(topo)
    fig, axes = plt.subplots(n, 1, figsize=(1.0 * topo.shape[1], 2.3 * n), squeeze=False)
    for i in range(n):
        both = np.concatenate([topo[i], base[i]])  # (2·steps, 28, 28)
        axes[i][0].imshow(
            image_grid((both + 1) / 2, ncol=topo.shape[1]), cmap="gray", vmin=0, vmax=1
        )
        axes[i][0].set_axis_off()
        axes[i][0].set_title(
            f"pair {i + 1}: Topology-Generator (top), Baseline (bottom)", fontsize=9
        )
    fig.tight_layout()
    return fig


def provenance(runs: dict[str, dict]) -> dict:
    out = {}
    for method, r in runs.items():
        p, m, c = r["provenance"], r["metrics"], r["config"]
        out[method] = {
            "run": r["run"].name,
            "git_commit": p.get("git_commit") or p.get("commit"),
            "git_dirty": p.get("git_dirty", p.get("dirty")),
            "seed": c.get("seed"),
            "stage": c["task"]["stage"],
            "iterations": m.get("iterations"),
            "init_from_iterations": p.get("init_iterations"),
            "batch_size": c["trainer"]["batch_size"],
            "threads": p.get("threads"),
            "train_s": m.get("train_s"),
            "iter_s": m.get("iter_s"),
            "eval_s": m.get("eval_s"),
            "computations": m.get("computations"),
            "n_l2": c["task"]["n_l2"],
            "n_wass": c["task"]["n_wass"],
            "eval_seed": c["task"]["eval_seed"],
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    runs = collect_runs(args.runs)
    if not runs:
        raise SystemExit(f"no completed GAN runs below {args.runs}")
    args.out.mkdir(parents=True, exist_ok=True)
    reference = pd.read_csv(args.reference)
    io.write_text(args.out / "table.md", figure10_table(runs, reference))
    io.write_text(args.out / "table.csv", figure10_csv(runs).to_csv(index=False))
    io.save_figure(args.out / "figure8.png", figure8(runs), dpi=150, bbox_inches="tight")
    if "topology_generator" in runs and "baseline_generator" in runs:
        io.save_figure(args.out / "figure9.png", figure9(runs), dpi=150, bbox_inches="tight")
    io.write_json(args.out / "provenance.json", provenance(runs))
    lines = ["# Claims of the generator-prior section, decided\n"]
    for c in claims(runs):
        lines += [f"## {c['claim']}\n", f"Rule: {c['rule']}.\n"]
        lines += [f"- {n}" for n in c["numbers"]]
        lines += ["", f"**Verdict: {c['verdict']}.**\n"]
    io.write_text(args.out / "claims.md", "\n".join(lines))
    print(f"wrote {args.out}: {len(runs)} runs ({', '.join(runs)})")


if __name__ == "__main__":
    main()
