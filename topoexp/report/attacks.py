"""results/topology_layer/attacks from the attack runs: table beside the paper, grid, examples.

    python -m topoexp.report.attacks --runs multirun/toplayer_attacks \
        --reference REFERENCE/topology_layer_attacks.csv --out results/topology_layer/attacks

Reads every completed run of the ``attack`` task below ``--runs`` (``config.yaml``,
``metrics.json``, ``attacks.npz``, ``grid.npz``, ``provenance.json``) and writes

- ``table.md`` / ``table.csv``: per model at the main bound (``--eps``), test accuracy and attack
  success rate beside the paper's (``--reference``), success among correctly classified images,
  steps and perturbation size of the successes, times (runs of ``--steps`` steps);
  ``budgets.md``: success rate per model and budget (every run, e.g. one-step FGSM too);
- ``grid.png``: the source × target grids of the three models (the paper's Figure 12);
- ``examples.png``: test images whose attack on TopModel succeeded, with the adversarial images
  of TopModel, the MLP and the CNN for the same target (Figure 13);
- ``success.png``: success rate against the step (main bound) and against the bound;
- ``claims.md``: the paper's two claims decided on the numbers; ``provenance.json`` (commit,
  seeds, budgets, times per run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from topoexp import io
from topoexp.plotting.attacks import grid_axes
from topoexp.records import run_state

__all__ = ["build", "collect", "main"]

MODELS = ("topmodel", "mlp", "cnn")
LABELS = {"topmodel": "TopModel", "mlp": "MLP", "cnn": "CNN"}
BUDGET_KEYS = ("eps", "step_size", "steps", "clip_min", "clip_max", "early_stop", "n_attack",
               "attack_seed")  # fmt: skip


def collect(runs_dir: Path) -> pd.DataFrame:
    """One row per completed attack run: model, budget, metrics, run directory."""
    rows = []
    for metrics_file in sorted(runs_dir.rglob("metrics.json")):
        run_dir = metrics_file.parent
        if run_state(run_dir) != "completed":
            print(f"skipping {run_state(run_dir)} run {run_dir}", file=sys.stderr)
            continue
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
        if not str(cfg["task"].get("_target_", "")).endswith("AttackTask"):
            continue
        model = str(cfg["method"]).removeprefix("attack_")
        prov = json.loads((run_dir / "provenance.json").read_text())
        rows.append(
            {
                "model": model,
                "seed": int(cfg["seed"]),
                **{k: cfg["task"][k] for k in BUDGET_KEYS},
                "fit_epochs": cfg["task"]["fit_epochs"] if model == "topmodel" else None,
                "train_subset": cfg["task"]["train_subset"],
                "git_commit": prov.get("git_commit"),
                "git_dirty": prov.get("git_dirty"),
                "run_dir": str(run_dir),
                "duration_s": prov.get("duration_s"),
                **json.loads(metrics_file.read_text()),
            }
        )
    if not rows:
        raise FileNotFoundError(f"no completed attack runs below {runs_dir}")
    return pd.DataFrame(rows)


def read_reference(path: Path | None) -> dict[str, dict[str, str]]:
    """The paper's numbers per model (``target_model`` → row), empty without a file."""
    if path is None or not path.is_file():
        return {}
    ref = pd.read_csv(path, dtype=str).fillna("")
    return {row["target_model"]: row for row in ref.to_dict("records")}


def _pct(x: float) -> str:
    return "" if x is None or not np.isfinite(x) else f"{100 * x:.1f} %"


def _range_pct(text: str) -> str:
    """``0.80-0.85`` → ``80–85 %``; a single fraction → a percentage; empty stays empty."""
    if not text:
        return ""
    parts = [100 * float(p) for p in text.split("-")]
    return "–".join(f"{p:g}" for p in parts) + " %"


def main_table(runs: pd.DataFrame, eps: float, ref: dict) -> pd.DataFrame:
    rows = []
    for model in MODELS:
        sel = runs[(runs.model == model) & np.isclose(runs.eps, eps)]
        if sel.empty:
            continue
        r = sel.iloc[0]
        paper = ref.get(model, {})
        rate = paper.get("attack_success_rate", "")
        rows.append(
            {
                "model": LABELS[model],
                "test accuracy": _pct(r.test_accuracy),
                "paper accuracy": _range_pct(paper.get("test_accuracy", "")),
                "attack success": _pct(r.attack_success_rate),
                "paper success": _pct(float(rate)) if rate else "",
                "success (correct before)": _pct(r.attack_success_rate_correct),
                "grid success": _pct(r.get("grid_success_rate", np.nan)),
                "mean steps (successes)": f"{r.get('attack_mean_steps_success', np.nan):.1f}",
                "mean L∞ / L2 (successes)": f"{r.get('attack_mean_linf_success', np.nan):.3f} / "
                f"{r.get('attack_mean_l2_success', np.nan):.2f}",
                "attack time (s)": f"{r.attack_s:.0f}",
            }
        )
    return pd.DataFrame(rows)


def budget_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Success rate per model for every budget (steps, step size, L∞ bound) among the runs."""
    runs = runs.assign(
        budget=[f"{int(r.steps)} × {r.step_size:g}, ε = {r.eps:g}" for r in runs.itertuples()]
    )
    order = runs.sort_values(["steps", "eps"], ascending=[False, False]).budget.unique()
    table = runs.pivot_table(index="budget", columns="model", values="attack_success_rate")
    table = table.loc[order, [m for m in MODELS if m in table.columns]]
    return table.rename(columns=LABELS)


def _markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _run(runs: pd.DataFrame, model: str, eps: float) -> pd.Series | None:
    sel = runs[(runs.model == model) & np.isclose(runs.eps, eps)]
    return None if sel.empty else sel.iloc[0]


def grid_panels(runs: pd.DataFrame, eps: float) -> Figure:
    models = [m for m in MODELS if _run(runs, m, eps) is not None]
    fig = Figure(figsize=(5.0 * len(models), 5.6))
    for k, model in enumerate(models):
        with np.load(Path(_run(runs, model, eps).run_dir) / "grid.npz") as z:
            grid_axes(fig.add_subplot(1, len(models), k + 1), z["images"], z["success"],
                      f"{LABELS[model]}, ε = {eps:g}")  # fmt: skip
    fig.tight_layout()
    return fig


def examples(runs: pd.DataFrame, eps: float, n: int = 6) -> Figure | None:
    arrays = {}
    for model in MODELS:
        run = _run(runs, model, eps)
        if run is None:
            return None
        with np.load(Path(run.run_dir) / "attacks.npz") as z:
            arrays[model] = {key: z[key] for key in z.files}
    top = arrays["topmodel"]
    pick = np.nonzero(top["success"])[0][:n]
    if len(pick) == 0:
        return None
    fig = Figure(figsize=(1.7 * len(pick), 9.0))
    rows = [("original", None, "originals"), ("TopModel", "topmodel", "adversarial"),
            ("TopModel − original", "topmodel", "delta"), ("MLP", "mlp", "adversarial"),
            ("CNN", "cnn", "adversarial")]  # fmt: skip
    for col, i in enumerate(pick):
        for row, (label, model, key) in enumerate(rows):
            ax = fig.add_subplot(len(rows), len(pick), row * len(pick) + col + 1)
            source = top if model is None else arrays[model]
            assert source["indices"][i] == top["indices"][i]  # the same test image everywhere
            if key == "delta":
                delta = (source["adversarial"][i] - source["originals"][i]).squeeze()
                ax.imshow(delta, cmap="RdBu_r", vmin=-eps, vmax=eps)
                ax.set_title(f"{int((np.abs(delta) > 1e-6).sum())} pixels changed", fontsize=7)
            else:
                ax.imshow(source[key][i].squeeze(), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if model is None:
                ax.set_title(f"{top['labels'][i]} → {top['targets'][i]}", fontsize=9)
            elif key == "adversarial":
                ok = bool(source["success"][i])
                ax.set_title(f"pred {source['final_pred'][i]}", fontsize=8,
                             color="red" if ok else "black")  # fmt: skip
            if col == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(f"attacks that succeed on TopModel (ε = {eps:g}); red: classified as the target",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    return fig


def success_curves(runs: pd.DataFrame, eps: float) -> Figure:
    fig = Figure(figsize=(10, 3.6))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for model in MODELS:
        run = _run(runs, model, eps)
        if run is not None:
            with np.load(Path(run.run_dir) / "attacks.npz") as z:
                curve = z["success_after_step"]
            ax1.plot(np.arange(1, len(curve) + 1), curve, label=LABELS[model])
        sel = runs[runs.model == model].sort_values("eps")
        ax2.plot(sel.eps, sel.attack_success_rate, "o-", label=LABELS[model])
    ax1.set(xlabel="step", ylabel="success rate", title=f"ε = {eps:g}", ylim=(0, 1.02))
    ax2.set(xlabel="L∞ bound ε", ylabel="success rate", title="after all steps", ylim=(0, 1.02))
    for ax in (ax1, ax2):
        ax.axhline(0.252, color="gray", ls=":", lw=1, label="paper, TopModel")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True)  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def claims(runs: pd.DataFrame, eps: float) -> dict[str, dict]:
    """The two claims decided on the numbers at the main bound."""
    get = {m: _run(runs, m, eps) for m in MODELS}
    out = {}
    top = get["topmodel"]
    if top is not None:
        acc = float(top.test_accuracy)
        out["accuracy"] = {
            "topmodel_test_accuracy": acc,
            "in_80_85": 0.80 <= acc <= 0.85,
            "at_least_80": acc >= 0.80,
        }
    if top is not None and get["mlp"] is not None and get["cnn"] is not None:
        rates = {m: float(get[m].attack_success_rate) for m in MODELS}
        pixel = min(rates["mlp"], rates["cnn"])
        out["robustness"] = {
            **{f"{m}_success_rate": r for m, r in rates.items()},
            "topmodel_below_both": rates["topmodel"] < pixel,
            "gap_to_lower_pixel_model": pixel - rates["topmodel"],
            # "far less": at most half the more robust pixel model's rate (the paper: a quarter)
            "topmodel_at_most_half": rates["topmodel"] <= pixel / 2,
            **{
                f"{m}_mean_l2_success": float(get[m].get("attack_mean_l2_success", np.nan))
                for m in MODELS
            },
        }
        by_eps = {}
        for e in sorted(set(runs.eps)):
            rows = {m: _run(runs, m, e) for m in MODELS}
            if all(r is not None for r in rows.values()):
                r = {m: float(rows[m].attack_success_rate) for m in MODELS}
                by_eps[f"{e:g}"] = {
                    **r,
                    "topmodel_below_both": r["topmodel"] < min(r["mlp"], r["cnn"]),
                }
        out["robustness_by_eps"] = by_eps
    return out


def claims_markdown(decided: dict[str, dict], eps: float) -> str:
    """The paper's two claims, each decided on the numbers of :func:`claims`."""
    lines = [f"# Claims of the paper, decided at the L∞ bound ε = {eps:g}", ""]
    acc = decided.get("accuracy")
    if acc:
        a = acc["topmodel_test_accuracy"]
        verdict = (
            "reproduced"
            if acc["in_80_85"]
            else "exceeded: at least the paper's accuracy, above its range"
            if a > 0.85
            else "not reproduced"
        )
        lines += [
            "**TopModel reaches 80–85 % test accuracy** (a classifier on the 400 persistence "
            f"features alone): {verdict}; TopModel classifies {100 * a:.2f} % of the 10,000 "
            "MNIST test images correctly.",
            "",
        ]
    rob = decided.get("robustness")
    if rob:
        t, m, c = (rob[f"{k}_success_rate"] for k in MODELS)
        if rob["topmodel_at_most_half"]:
            verdict = "holds"
        elif rob["topmodel_below_both"]:
            verdict = "holds in direction only (less often, but not far less)"
        else:
            verdict = "does not hold"
        lines += [
            "**Attacks on TopModel succeed far less often than on the MLP and the CNN** "
            f"(paper: 25.2 % against 100 % and 100 %): {verdict} at this budget; success rates "
            f"TopModel {100 * t:.1f} %, MLP {100 * m:.1f} %, CNN {100 * c:.1f} % "
            f"({100 * rob['gap_to_lower_pixel_model']:.1f} points below the more robust pixel "
            "model; 'far less' is taken as at most half of its rate). The successful attacks on "
            f"TopModel are the smallest: mean L2 {rob['topmodel_mean_l2_success']:.2f} against "
            f"{rob['mlp_mean_l2_success']:.2f} (MLP) and {rob['cnn_mean_l2_success']:.2f} (CNN).",
            "",
        ]
    by_eps = decided.get("robustness_by_eps")
    if by_eps:
        below = [e for e, r in by_eps.items() if r["topmodel_below_both"]]
        lines += [
            "Over the L∞ bounds run (100 steps of 0.01), TopModel is attacked less often than both "
            f"pixel models at ε ∈ {{{', '.join(below) or 'none'}}}:",
            "",
            "| ε | TopModel | MLP | CNN | TopModel below both |",
            "|---|---|---|---|---|",
            *[
                f"| {e} | {_pct(r['topmodel'])} | {_pct(r['mlp'])} | {_pct(r['cnn'])} | "
                f"{'yes' if r['topmodel_below_both'] else 'no'} |"
                for e, r in sorted(by_eps.items(), key=lambda kv: -float(kv[0]))
            ],
            "",
        ]
    return "\n".join(lines)


def build(
    runs_dir: Path, out_dir: Path, reference: Path | None, eps: float, steps: int = 100
) -> dict:
    every = collect(runs_dir)
    runs = every[every.steps == steps]  # the main protocol; other budgets in budgets.md only
    if runs.empty:
        raise FileNotFoundError(f"no attack runs with {steps} steps below {runs_dir}")
    ref = read_reference(reference)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = main_table(runs, eps, ref)
    io.write_text(out_dir / "table.md", _markdown(table))
    io.write_text(out_dir / "table.csv", table.to_csv(index=False))
    numeric = every.drop(columns=["run_dir"]).sort_values(["model", "steps", "eps"])
    io.write_text(out_dir / "runs.csv", numeric.to_csv(index=False))  # one row per run, numbers
    by_budget = budget_table(every)
    pct = by_budget.map(_pct).reset_index().rename(columns={"budget": "steps × step size, bound"})
    io.write_text(out_dir / "budgets.md", _markdown(pct))
    figures = {"grid": grid_panels(runs, eps), "success": success_curves(runs, eps)}
    ex = examples(runs, eps)
    if ex is not None:
        figures["examples"] = ex
    for name, fig in figures.items():
        io.save_figure(out_dir / f"{name}.png", fig, dpi=120, bbox_inches="tight")
    decided = claims(runs, eps)
    io.write_text(out_dir / "claims.md", claims_markdown(decided, eps))
    io.write_json(
        out_dir / "provenance.json",
        {
            "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "git_commit_report": _git_commit(),
            "main_eps": eps,
            "claims": decided,
            "runs": [
                {
                    key: (None if isinstance(v, float) and not np.isfinite(v) else v)
                    for key, v in row.items()
                    if key != "run_dir"
                }
                for row in every.sort_values(["model", "steps", "eps"]).to_dict("records")
            ],
        },
    )
    return {"table": table, "budgets": by_budget, "claims": decided}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("multirun/toplayer_attacks"))
    parser.add_argument("--out", type=Path, default=Path("results/topology_layer/attacks"))
    parser.add_argument("--reference", type=Path, default=None, help="the paper's numbers (CSV)")
    parser.add_argument("--eps", type=float, default=0.3, help="the main table's L∞ bound")
    parser.add_argument("--steps", type=int, default=100, help="the main protocol's steps")
    args = parser.parse_args(argv)
    result = build(args.runs, args.out, args.reference, args.eps, args.steps)
    print(_markdown(result["table"]))
    print(json.dumps(result["claims"], indent=1))


if __name__ == "__main__":
    main()
