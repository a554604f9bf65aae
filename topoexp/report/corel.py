"""COREL's offline report: ``python -m topoexp.report.corel --runs DIR --out results/corel``.

Reads the run directories the ``reproduce-corel-offline`` target writes (``<runs>/<name>/``:
``metrics.json``, ``config.yaml``, ``provenance.json``, ``death_times.npz``; ``<runs>/toy/``) and
writes per-class AUC tables with the published one-class anchors beside them (marked as another
regime), the ablation and baseline tables, the claims of the paper decided with numbers, figures
(AUC against m, death times per branch, the toy panels), ``provenance.json`` and ``README.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from topoexp import io

__all__ = ["Run", "collect", "death_time_table", "main"]

M_ORDER = ("80", "120", "500", "all")
DATA_LABEL = {"mnist": "MNIST", "fmnist": "Fashion-MNIST"}
#: Anchor methods per data set (one_class_anchors.csv): one model per class, all its images.
ANCHOR_METHOD = {"mnist": "deep_svdd_one_class", "fmnist": "geom"}
#: name → (backbone, evaluated data, label) of the offline runs.
SETTINGS = {
    "mnist": ("MNIST λ=20 16×10", "mnist", "COREL (same data)"),
    "mnist_to_fmnist": ("MNIST λ=20 16×10", "fmnist", "COREL (transfer)"),
    "fmnist": ("Fashion-MNIST λ=20 16×10", "fmnist", "COREL (same data)"),
    "fmnist_to_mnist": ("Fashion-MNIST λ=20 16×10", "mnist", "COREL (transfer)"),
    "fmnist_lam0": ("Fashion-MNIST λ=0 16×10", "fmnist", "count scorer, λ=0"),
    "fmnist_lam0_to_mnist": ("Fashion-MNIST λ=0 16×10", "mnist", "count scorer, λ=0"),
    "fmnist_1x160": ("Fashion-MNIST λ=20 1×160", "fmnist", "no branching"),
    "fmnist_1x160_to_mnist": ("Fashion-MNIST λ=20 1×160", "mnist", "no branching"),
    "mnist_lam0": ("MNIST λ=0 16×10", "mnist", "count scorer, λ=0"),
    "ocsvm_cae_fmnist": ("Fashion-MNIST λ=0 16×10", "fmnist", "OC-SVM (CAE)"),
    "kde_cae_fmnist": ("Fashion-MNIST λ=0 16×10", "fmnist", "KDE (CAE)"),
    "ocsvm_pixels_mnist": ("pixels", "mnist", "OC-SVM (pixels)"),
    "ocsvm_pixels_fmnist": ("pixels", "fmnist", "OC-SVM (pixels)"),
    "kde_pixels_mnist": ("pixels", "mnist", "KDE (pixels)"),
    "kde_pixels_fmnist": ("pixels", "fmnist", "KDE (pixels)"),
}


class Run:
    """One completed run directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.metrics: dict[str, float] = json.loads((path / "metrics.json").read_text())
        self.config = yaml.safe_load((path / "config.yaml").read_text())
        prov = path / "provenance.json"
        self.provenance = json.loads(prov.read_text()) if prov.exists() else {}
        deaths = path / "death_times.npz"
        self.death_times = np.load(deaths)["per_batch"] if deaths.exists() else None

    def auc(self, m: str, cls: int | None = None) -> float:
        key = f"auc_m{m}" if cls is None else f"auc_m{m}_class{cls}"
        return float(self.metrics.get(key, np.nan))

    @property
    def m_values(self) -> list[str]:
        return [m for m in M_ORDER if f"auc_m{m}" in self.metrics]


def collect(runs_dir: Path) -> dict[str, Run]:
    """The completed runs below ``runs_dir`` by name (status ``completed`` only)."""
    out = {}
    for metrics in sorted(runs_dir.glob("*/metrics.json")):
        status = metrics.parent / "status.json"
        if status.exists() and json.loads(status.read_text()).get("status") != "completed":
            continue
        out[metrics.parent.name] = Run(metrics.parent)
    return out


def _fmt(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:.3f}"


def _md(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join([str(df.index.name or ""), *cols]) + " |"]
    lines.append("|" + "---|" * (len(cols) + 1))
    for idx, row in df.iterrows():
        cells = [v if isinstance(v, str) else _fmt(float(v)) for v in row]
        lines.append("| " + " | ".join([str(idx), *cells]) + " |")
    return "\n".join(lines)


def per_class_table(run: Run, anchors: pd.DataFrame | None) -> pd.DataFrame:
    """Rows: classes and the mean; columns: m; the anchor column beside (another regime)."""
    n_classes = len([k for k in run.metrics if k.startswith(f"auc_m{run.m_values[0]}_class")])
    rows = {}
    for c in [*range(n_classes), "mean"]:
        rows[str(c)] = {f"m={m}": run.auc(m, None if c == "mean" else int(c)) for m in run.m_values}
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = "class"
    data = SETTINGS.get(run.name, ("", run.config["dataset"]["name"], ""))[1]
    if anchors is not None and data in ANCHOR_METHOD:
        sel = anchors[(anchors.dataset == data) & (anchors.method == ANCHOR_METHOD[data])]
        ref = dict(zip(sel["class"].astype(str), sel.auc.astype(float), strict=True))
        df[f"anchor: {ANCHOR_METHOD[data]} (other regime)"] = [
            ref.get(str(c), np.nan) for c in df.index
        ]
    return df


def summary_table(runs: dict[str, Run], names: list[str]) -> pd.DataFrame:
    rows = {}
    for name in names:
        if name not in runs:
            continue
        backbone, data, label = SETTINGS[name]
        run = runs[name]
        row = {"backbone": backbone, "evaluated on": DATA_LABEL[data], "scorer": label}
        row |= {f"m={m}": run.auc(m) for m in M_ORDER}
        rows[name] = row
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = "run"
    return df


def radius_table(runs: dict[str, Run], names: list[str]) -> pd.DataFrame:
    rows = {}
    for name in names:
        if name not in runs:
            continue
        keys = sorted(
            {k.split("_m")[0][len("auc_r") :] for k in runs[name].metrics if k.startswith("auc_r")},
            key=float,
        )
        for m in M_ORDER:
            if any(f"auc_r{r}_m{m}" in runs[name].metrics for r in keys):
                rows[f"{name}, m={m}"] = {
                    f"r={r}": runs[name].metrics.get(f"auc_r{r}_m{m}", np.nan) for r in keys
                }
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = "run"
    return df


def death_time_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Per backbone and branch: mean (α̂, ε̂, β̂) of the death times on its own test split, ε̂ on
    the other data set and the gap (the numbers the report's death-time rules read)."""
    rows = []
    for own, other in (("mnist", "mnist_to_fmnist"), ("fmnist", "fmnist_to_mnist")):
        if own not in runs or other not in runs:
            continue
        a, b = runs[own].death_times, runs[other].death_times
        if a is None or b is None:
            continue
        mean_a, eps_b = a.mean(1), b[..., 1].mean(1)
        for branch, (alpha, eps, beta) in enumerate(mean_a):
            rows.append(
                {
                    "backbone": own,
                    "branch": branch,
                    "alpha_own": alpha,
                    "epsilon_own": eps,
                    "beta_own": beta,
                    "epsilon_other": eps_b[branch],
                    "epsilon_gap": abs(eps - eps_b[branch]),
                }
            )
    return pd.DataFrame(rows).set_index(["backbone", "branch"]) if rows else pd.DataFrame()


# ------------------------------------------------------------------------------------ claims


def decide_claims(runs: dict[str, Run], eta: float = 2.0) -> list[tuple[str, str, str]]:
    """``(claim, verdict, numbers)`` for each claim of the paper."""
    out: list[tuple[str, str, str]] = []

    def have(*names: str) -> bool:
        return all(n in runs for n in names)

    # 1. branching beats no branching
    if have("fmnist_to_mnist", "fmnist_1x160_to_mnist"):
        a, b = runs["fmnist_to_mnist"], runs["fmnist_1x160_to_mnist"]
        diffs = {m: a.auc(m) - b.auc(m) for m in a.m_values}
        text = ", ".join(f"m={m}: {a.auc(m):.3f} vs {b.auc(m):.3f}" for m in a.m_values)
        verdict = "reproduced" if all(d > 0 for d in diffs.values()) else "not reproduced"
        out.append(("Branching (16×10) beats no branching (1×160), F-MNIST → MNIST", verdict, text))
    else:
        out.append(("Branching beats no branching", "not run", "runs missing"))
    # 2. λ = 0 gives AUC 0.5 with the count scorer
    lam0 = [n for n in ("fmnist_lam0", "fmnist_lam0_to_mnist", "mnist_lam0") if n in runs]
    if lam0:
        vals = {f"{n} m={m}": runs[n].auc(m) for n in lam0 for m in runs[n].m_values}
        worst = max(abs(v - 0.5) for v in vals.values())
        verdict = "reproduced" if worst <= 0.02 else "not reproduced"
        text = (
            "; ".join(f"{k}: {v:.3f}" for k, v in vals.items())
            + f" (max |AUC − 0.5| = {worst:.3f})"
        )
        out.append(("λ = 0 gives AUC 0.5 with the count scorer", verdict, text))
    else:
        out.append(("λ = 0 gives AUC 0.5 with the count scorer", "not run", "runs missing"))
    # 3. AUC grows with m
    grow = [n for n in ("mnist", "fmnist", "mnist_to_fmnist", "fmnist_to_mnist") if n in runs]
    if grow:
        parts, ok = [], True
        for n in grow:
            seq = [runs[n].auc(m) for m in runs[n].m_values]
            ok &= bool(np.all(np.diff(seq) > 0))
            parts.append(f"{n}: " + " < ".join(f"{v:.3f}" for v in seq))
        out.append(
            ("AUC grows with m (80 < 120 < 500 < all)", "reproduced" if ok else "not reproduced",
             "; ".join(parts))
        )  # fmt: skip
    else:
        out.append(("AUC grows with m", "not run", "runs missing"))
    # 4. death times concentrate near η and agree across data sets
    pairs = [(a, b) for a, b in (("mnist", "mnist_to_fmnist"), ("fmnist", "fmnist_to_mnist"))
             if have(a, b) and runs[a].death_times is not None]  # fmt: skip
    if pairs:
        parts, near, agree = [], True, True
        for a, b in pairs:
            ea = runs[a].death_times[..., 1].mean(1)
            eb = runs[b].death_times[..., 1].mean(1)
            near &= bool(np.all(np.abs(ea - eta) <= 0.25 * eta))
            gap = float(np.abs(ea - eb).max())
            agree &= gap <= 0.1 * eta
            parts.append(
                f"{a} backbone: ε̂ per branch on own test {ea.min():.2f}–{ea.max():.2f} "
                f"(mean {ea.mean():.2f}), on the other data set {eb.min():.2f}–{eb.max():.2f} "
                f"(mean {eb.mean():.2f}), max per-branch gap {gap:.2f}"
            )
        for trained, plain in (("fmnist", "fmnist_lam0"), ("mnist", "mnist_lam0")):
            if have(trained, plain) and runs[plain].death_times is not None:
                spread = [
                    (runs[n].death_times[..., 0].mean(), runs[n].death_times[..., 2].mean())
                    for n in (trained, plain)
                ]
                parts.append(
                    f"{trained}: mean (α̂, β̂) over branches with λ=20 "
                    f"({spread[0][0]:.2f}, {spread[0][1]:.2f}) against λ=0 "
                    f"({spread[1][0]:.2f}, {spread[1][1]:.2f})"
                )
        text = "; ".join(parts)
        yes = {True: "reproduced", False: "not reproduced"}
        out.append(("Death times concentrate near η (per branch within ±25 %)", yes[near], text))
        out.append(
            ("Death times agree across data sets (per branch within 0.1 η)", yes[agree], text)
        )
    else:
        out.append(("Death times concentrate near η", "not run", "runs missing"))
        out.append(("Death times agree across data sets", "not run", "runs missing"))
    # 5. transfer loses little
    pairs = [(own, other, d) for own, other, d in (("mnist", "fmnist_to_mnist", "MNIST"),
             ("fmnist", "mnist_to_fmnist", "Fashion-MNIST")) if have(own, other)]  # fmt: skip
    if pairs:
        parts, ok = [], True
        for own, other, d in pairs:
            loss = runs[own].auc("120") - runs[other].auc("120")
            ok &= loss <= 0.02
            parts.append(
                f"{d} at m=120: own backbone {runs[own].auc('120'):.3f}, other "
                f"{runs[other].auc('120'):.3f} (loss {loss:+.3f})"
            )
        out.append(
            ("A backbone from the other data set loses little (≤ 0.02 AUC at m=120)",
             "reproduced" if ok else "not reproduced", "; ".join(parts))
        )  # fmt: skip
    else:
        out.append(("Transfer loses little", "not run", "runs missing"))
    return out


# ----------------------------------------------------------------------------------- figures


def auc_figure(aucs: dict[str, dict[str, float]]) -> Figure:
    """Mean AUC against m, one panel per evaluated data set; dashed lines: baselines.

    ``aucs``: run name (a key of :data:`SETTINGS`) → m (of :data:`M_ORDER`) → mean AUC.
    """
    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, data in zip(axes, ("mnist", "fmnist"), strict=True):
        for name, auc in aucs.items():
            if name not in SETTINGS or SETTINGS[name][1] != data:
                continue
            backbone, _, label = SETTINGS[name]
            ms = [m for m in M_ORDER if m in auc]
            x = [M_ORDER.index(m) for m in ms]
            style = "--" if "(" in label and "COREL" not in label else "-"
            ax.plot(x, [auc[m] for m in ms], style, marker="o", ms=3, lw=1.2,
                    label=f"{label}: {backbone}")  # fmt: skip
        ax.set_xticks(range(len(M_ORDER)), list(M_ORDER))
        ax.set_xlabel("m (stored samples per class)")
        ax.set_title(f"evaluated on {DATA_LABEL[data]}", fontsize=9)
        ax.axhline(0.5, color="grey", ls=":", lw=1)
        ax.legend(fontsize=6, loc="lower right")
    axes[0].set_ylabel("mean AUC over classes")
    return fig


def death_time_figure(runs: dict[str, Run], eta: float = 2.0) -> Figure:
    """Figure 6 analogue: per-branch ε̂ of each backbone on its own test split and the other."""
    pairs = [(a, b) for a, b in (("mnist", "mnist_to_fmnist"), ("fmnist", "fmnist_to_mnist"))
             if a in runs and b in runs and runs[a].death_times is not None]  # fmt: skip
    fig = Figure(figsize=(10, 3.5 * max(1, len(pairs))))
    axes = np.atleast_1d(fig.subplots(max(1, len(pairs)), 1))
    for ax, (a, b) in zip(axes, pairs, strict=False):
        for offset, name, colour in ((-0.2, a, "tab:blue"), (0.2, b, "tab:orange")):
            per_batch = runs[name].death_times
            pos = np.arange(len(per_batch)) + offset
            ax.boxplot(list(per_batch[..., 1]), positions=pos, widths=0.35, showfliers=False,
                       patch_artist=True, boxprops={"facecolor": colour, "alpha": 0.5})  # fmt: skip
            data = DATA_LABEL[SETTINGS[name][1]]
            ax.plot(pos, per_batch[..., 0].mean(1), "v", color=colour, ms=3)
            ax.plot(pos, per_batch[..., 2].mean(1), "^", color=colour, ms=3,
                    label=f"{data} test (▼ mean min, ▲ mean max)")  # fmt: skip
        ax.axhline(eta, color="grey", ls="--", lw=1)
        ax.set_xticks(
            range(len(runs[a].death_times)), [str(i) for i in range(len(runs[a].death_times))]
        )
        ax.set_title(f"backbone {SETTINGS[a][0]}: per-batch mean death time per branch "
                     "(batches of 100 test latents)", fontsize=9)  # fmt: skip
        ax.set_xlabel("branch")
        ax.set_ylabel("ℓ1 death time")
        ax.legend(fontsize=7)
    return fig


# ------------------------------------------------------------------------------------ README


def _provenance(runs: dict[str, Run]) -> dict:
    out = {}
    for name, run in runs.items():
        p = run.provenance
        out[name] = {
            "git_commit": p.get("git_commit"),
            "git_dirty": p.get("git_dirty"),
            # the command line as typed: `python -m topoexp <overrides>` (no local paths)
            "command": "python -m topoexp " + " ".join((p.get("argv") or [""])[1:]),
            "epochs": run.metrics.get("epochs"),
            "time_epoch_s": run.metrics.get("time/epoch_s"),
            "time_train_s": run.metrics.get("time/train_s"),
            "time_evaluate_s": run.metrics.get("time/evaluate_s"),
            "packages": p.get("packages"),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--anchors", type=Path)
    parser.add_argument("--paper", type=Path)
    args = parser.parse_args(argv)
    runs = collect(args.runs)
    known = {n: r for n, r in runs.items() if n in SETTINGS}
    anchors = pd.read_csv(args.anchors) if args.anchors and args.anchors.exists() else None
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    sections: list[str] = []
    for name, run in known.items():
        table = per_class_table(run, anchors)
        table.to_csv(out / f"per_class_{name}.csv")
        backbone, data, label = SETTINGS[name]
        sections.append(f"### {label}: {backbone} → {DATA_LABEL[data]} (`{name}`)\n\n{_md(table)}")
    main_names = ["mnist", "fmnist_to_mnist", "fmnist", "mnist_to_fmnist"]
    ablation = ["fmnist_to_mnist", "fmnist_lam0_to_mnist", "fmnist_1x160_to_mnist", "fmnist",
                "fmnist_lam0", "fmnist_1x160"]  # fmt: skip
    baselines = ["fmnist", "fmnist_lam0", "ocsvm_cae_fmnist", "kde_cae_fmnist",
                 "ocsvm_pixels_fmnist", "kde_pixels_fmnist", "mnist", "mnist_lam0",
                 "ocsvm_pixels_mnist", "kde_pixels_mnist"]  # fmt: skip
    tables = {
        "same_data_and_transfer": summary_table(known, main_names),
        "ablation_fmnist_to_mnist": summary_table(known, ablation),
        "baselines": summary_table(known, baselines),
        "radius_grid_fmnist_to_mnist": radius_table(known, ablation[:3]),
    }
    deaths = death_time_table(known)
    if not deaths.empty:
        tables["death_times"] = deaths
    for key, df in tables.items():
        df.to_csv(out / f"{key}.csv")
    claims = decide_claims(known)
    aucs = {n: {m: r.auc(m) for m in r.m_values} for n, r in known.items()}
    figures = {"auc_vs_m": auc_figure(aucs), "death_times_per_branch": death_time_figure(known)}
    for key, fig in figures.items():
        io.save_figure(out / f"{key}.png", fig, dpi=150, bbox_inches="tight")
    toy = args.runs / "toy"
    if (toy / "toy.json").exists():
        shutil.copy(toy / "toy.png", out / "toy.png")
        shutil.copy(toy / "toy.json", out / "toy.json")
    io.write_json(out / "provenance.json", _provenance(runs))
    io.write_json(
        out / "claims.json", [{"claim": c, "verdict": v, "numbers": n} for c, v, n in claims]
    )
    text = ["# COREL offline tables (generated by `make report-corel`)\n"]
    text.append(f"Budget: {args.epochs} training epoch(s) per backbone (the paper: 50).\n")
    text.append("## Claims\n\n| claim | verdict | numbers |\n|---|---|---|")
    text += [f"| {c} | **{v}** | {n} |" for c, v, n in claims]
    for key, df in tables.items():
        text.append(f"\n## {key.replace('_', ' ')}\n\n{_md(df)}")
    text.append(
        "\n## Per-class AUC (mean over 5 runs; m = all: one run)\n\nThe anchor column is "
        "**another regime**: one model per class trained on all ~6,000 training images of "
        "that class (Deep SVDD on MNIST, GEOM on Fashion-MNIST), not m stored samples in a "
        "shared backbone.\n"
    )
    text.append("\n\n".join(sections))
    io.write_text(out / "tables.md", "\n".join(text) + "\n")
    print((out / "tables.md").read_text()[:3000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
