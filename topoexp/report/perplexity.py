"""The reproduction study's t-SNE perplexity experiment (its Figure 8) from run directories.

``python -m topoexp.report.perplexity --runs multirun/perplexity --out results/reproduction_study``
reads t-SNE runs with diagram distances, copies each run's record into
``<out>/runs/perplexity/tsne_perplexity<p>/`` (the table ``study_perplexity`` and the figure
``perplexity_sliced_wasserstein.png`` of ``make report`` read them: sliced Wasserstein between
the data and latent diagrams against perplexity, raw and scale-normalised, H0 and H1) and draws
``tsne_latents_perplexity_<p>.png`` for the largest perplexity (its latents are not committed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from topoexp import io
from topoexp.plotting.figures import latent_scatter, plt
from topoexp.report.records import export_run
from topoexp.report.table1 import collect_runs

NORMALISATIONS = (("", "raw"), ("_maxnorm", "÷ max distance"), ("_p50", "÷ median distance"))


def perplexity_table(runs_dir: Path) -> pd.DataFrame:
    runs = collect_runs(runs_dir)
    runs = runs[runs["method"] == "tsne"].copy()
    runs["perplexity"] = [
        yaml.safe_load((Path(d) / "config.yaml").read_text())["model"]["perplexity"]
        for d in runs["run_dir"]
    ]
    return runs.sort_values("perplexity").reset_index(drop=True)


def sliced_wasserstein_figure(table: pd.DataFrame) -> Figure:
    """Sliced Wasserstein against perplexity: one row per homology dimension, one column per
    normalisation, each panel on its own scale."""
    dims = [d for d in (0, 1) if f"sliced_wasserstein_h{d}" in table]
    fig, axes = plt.subplots(
        len(dims),
        len(NORMALISATIONS),
        figsize=(4 * len(NORMALISATIONS), 2.8 * len(dims)),
        squeeze=False,
    )
    for row, dim in enumerate(dims):
        for col, (suffix, label) in enumerate(NORMALISATIONS):
            ax = axes[row, col]
            key = f"sliced_wasserstein_h{dim}{suffix}"
            if key in table:
                ax.plot(table["perplexity"], table[key], marker="o")
            ax.set_xscale("log")
            ax.set_xlabel("perplexity")
            ax.set_title(f"H{dim}, sliced Wasserstein ({label})", fontsize=9)
    fig.tight_layout()
    return fig


RECORD_NAME = "tsne_perplexity{model.perplexity}"


def build(runs_dir: Path, out_dir: Path) -> pd.DataFrame:
    table = perplexity_table(runs_dir)
    columns = ["perplexity", "seed", "kl_0.01", "kl_0.1", "kl_1", "trust", "cont"]
    columns += [c for c in table.columns if c.startswith(("bottleneck_", "sliced_wasserstein_"))]
    for run in table["run_dir"]:
        export_run(Path(run), out_dir / "runs" / "perplexity", RECORD_NAME)
    largest = table.iloc[-1]
    latents = np.load(Path(largest["run_dir"]) / "latents.npz")
    p = largest["perplexity"]
    fig = latent_scatter(latents["latents"], latents["labels"], title=f"t-SNE, perplexity {p:g}")
    io.save_figure(
        out_dir / f"tsne_latents_perplexity_{p:g}.png", fig, dpi=150, bbox_inches="tight"
    )
    return table[columns]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(build(args.runs, args.out).to_string(index=False))


if __name__ == "__main__":
    main()
