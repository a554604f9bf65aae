"""Figures ``make report`` draws from run records (a spec figure with ``build``).

- ``latents``: one panel per method (``order``), the test latents (``latents.npz``) of its
  first seed, as the TopoAE paper's Figures 3 and 4;
- ``perplexity``: the sliced Wasserstein distances against t-SNE's perplexity (the reproduction
  study's Figure 8), from the records' metrics and their ``perplexity`` column;
- ``regression``: the mean error against n per penalty, one panel per β* (``order``), from a
  regression sweep's ``summary.csv`` (the TopologyLayer paper's Figures 5 and 6);
- ``one_class_auc``: COREL's mean one-class AUC against m (``auc_m<m>`` of each run record),
  one panel per evaluated data set, the baselines dashed;
- ``generative_metrics``: homological regularisation's sample-quality metrics against the
  latent size, mean ± std over seeds of the aggregated records (one data set), the floor dashed.

Figures without ``build`` are committed images the report only links (drawn from model outputs
that are not committed, e.g. samples of a generator).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from topoexp import io
from topoexp.plotting.figures import plt, scatter_latents
from topoexp.report import corel, homreg
from topoexp.report.page import select_rows
from topoexp.report.perplexity import sliced_wasserstein_figure
from topoexp.report.records import load_array, load_records
from topoexp.report.spec import FigureBuildSpec, PaperSpec, SpecError
from topoexp.report.toplayer import regression_figure

__all__ = ["BUILDERS", "draw", "write_figures"]


def first_seeds(frame: pd.DataFrame, order: list[str]) -> list[pd.Series]:
    """Per method of ``order`` present (all methods if empty): its record of the lowest seed."""
    methods = [m for m in order if m in set(frame["method"])] or sorted(set(frame["method"]))
    return [frame[frame["method"] == m].sort_values("seed").iloc[0] for m in methods]


def latents(frame: pd.DataFrame, directory: Path, spec: FigureBuildSpec) -> Figure:
    chosen = first_seeds(frame, spec.order)
    fig, axes = plt.subplots(1, len(chosen), figsize=(2.6 * len(chosen), 2.8))
    for ax, record in zip(np.atleast_1d(axes), chosen, strict=True):
        path = directory / record["run"] / "latents.npz"
        if not path.is_file():
            raise SpecError(f"figure from {spec.source}: {record['run']} has no latents.npz")
        data = np.load(path)
        label = spec.labels.get(record["method"], record["method"])
        scatter_latents(ax, data["latents"], data["labels"], label)
    fig.suptitle(spec.title, fontsize=10)
    fig.tight_layout()
    return fig


def perplexity(frame: pd.DataFrame, directory: Path, spec: FigureBuildSpec) -> Figure:
    del directory
    if "perplexity" not in frame:
        raise SpecError(f"figure from {spec.source}: needs columns: {{perplexity: ...}}")
    return sliced_wasserstein_figure(frame.sort_values("perplexity").reset_index(drop=True))


def regression(frame: pd.DataFrame, directory: Path, spec: FigureBuildSpec) -> Figure:
    del directory
    summary = frame.assign(beta=frame["beta"].astype(str))
    return regression_figure(summary, spec.order, spec.title)


def one_class_auc(frame: pd.DataFrame, directory: Path, spec: FigureBuildSpec) -> Figure:
    del directory, spec
    aucs = {}
    for _, record in frame.sort_values("run").iterrows():
        aucs[record["run"]] = {
            m: float(record[f"auc_m{m}"])
            for m in corel.M_ORDER
            if f"auc_m{m}" in record and pd.notna(record[f"auc_m{m}"])
        }
    return corel.auc_figure(aucs)


def generative_metrics(frame: pd.DataFrame, directory: Path, spec: FigureBuildSpec) -> Figure:
    del directory
    datasets = sorted(set(frame["dataset"]))
    if len(datasets) != 1 or "latent" not in frame:
        raise SpecError(
            f"figure from {spec.source}: needs one data set (where: {{dataset: ...}}) and "
            f"columns: {{latent: model.latent_dim}}; found data sets {datasets}"
        )
    return homreg.metric_plots(frame.assign(latent=frame["latent"].astype(int)), datasets[0])


BUILDERS: dict[str, Callable[[pd.DataFrame, Path, FigureBuildSpec], Figure]] = {
    "latents": latents,
    "perplexity": perplexity,
    "regression": regression,
    "one_class_auc": one_class_auc,
    "generative_metrics": generative_metrics,
}


def draw(spec: FigureBuildSpec, root: Path) -> Figure:
    directory = root / spec.source
    if spec.array is not None:
        frame = load_array(directory, spec.array, spec.columns)
    else:
        frame = load_records(directory, spec.columns)
    frame = select_rows(frame, spec.where, f"figure {spec.source}")
    return BUILDERS[spec.kind](frame, directory, spec)


def write_figures(specs: list[PaperSpec], root: Path, into: Path) -> list[Path]:
    """Every figure with ``build`` of ``specs``, from the records under ``root``, into ``into``."""
    written = []
    for paper in specs:
        for figure in paper.figures:
            if figure.build is None:
                continue
            drawn = draw(figure.build, root)
            extra = {"bbox_inches": "tight"} if figure.build.tight else {}
            path = into / figure.path
            written.append(io.save_figure(path, drawn, dpi=figure.build.dpi, **extra))
            plt.close(drawn)
    return written
