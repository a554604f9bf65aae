"""Figures drawn from run records: the plotted values are the records' metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from topoexp.report.figures import generative_metrics, one_class_auc
from topoexp.report.render import figure_origin
from topoexp.report.spec import FigureBuildSpec, FigureSpec, SpecError


def _lines(fig) -> dict[str, np.ndarray]:
    return {
        line.get_label(): np.asarray(line.get_ydata(), dtype=float)
        for ax in fig.axes
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }


def test_one_class_auc_plots_each_runs_auc_against_m():
    frame = pd.DataFrame(
        [
            {"run": "mnist", "auc_m80": 0.91, "auc_m120": 0.92, "auc_m500": 0.95, "auc_mall": 0.97},
            {"run": "kde_pixels_mnist", "auc_m80": 0.81, "auc_m500": 0.85},  # m=120 not run
            {"run": "not_a_setting", "auc_m80": 0.5},  # no SETTINGS entry: not drawn
        ]
    )
    spec = FigureBuildSpec(kind="one_class_auc", source="results/corel/runs")
    lines = _lines(one_class_auc(frame, Path("."), spec))
    assert set(lines) == {"COREL (same data): MNIST λ=20 16×10", "KDE (pixels): pixels"}
    np.testing.assert_array_equal(
        lines["COREL (same data): MNIST λ=20 16×10"], [0.91, 0.92, 0.95, 0.97]
    )
    np.testing.assert_array_equal(lines["KDE (pixels): pixels"], [0.81, 0.85])


def test_generative_metrics_plots_the_means_and_refuses_two_data_sets():
    rows = [
        {"dataset": "mnist", "method": m, "latent": n, "fid_mean": f, "fid_std": 1.0}
        for m, n, f in (("ae", 2, 30.0), ("ae", 5, 20.0), ("vae", 2, 10.0), ("floor", 0, 1.0))
    ]
    frame = pd.DataFrame(rows)
    for metric in ("kid_mean", "precision", "recall", "coverage", "classes_covered"):
        frame[f"{metric}_mean"], frame[f"{metric}_std"] = 0.5, 0.1
    spec = FigureBuildSpec(kind="generative_metrics", source="results/homreg/runs")
    fig = generative_metrics(frame, Path("."), spec)
    fid = fig.axes[0]
    assert fid.get_title() == "fid"
    means = {c.get_label(): np.asarray(c.lines[0].get_ydata()) for c in fid.containers}
    np.testing.assert_array_equal(means["AE"], [30.0, 20.0])
    np.testing.assert_array_equal(means["VAE"], [10.0])
    (floor,) = [line for line in fid.get_lines() if line.get_label() == "floor"]
    assert floor.get_ydata()[0] == 1.0
    with pytest.raises(SpecError, match="one data set"):
        generative_metrics(frame.assign(dataset=["mnist", "fmnist"] * 2), Path("."), spec)


def test_the_page_says_where_each_figure_comes_from():
    build = FigureBuildSpec(kind="latents", source="results/spheres/runs")
    drawn = FigureSpec(path="a.png", caption="A", build=build)
    assert figure_origin(drawn) == "drawn by `make report` from `results/spheres/runs`"
    assert "committed image" in figure_origin(FigureSpec(path="b.png", caption="B"))


def test_every_figure_kind_of_the_spec_has_a_builder():
    from typing import get_args

    from topoexp.report.figures import BUILDERS

    assert set(get_args(FigureBuildSpec.model_fields["kind"].annotation)) == set(BUILDERS)
