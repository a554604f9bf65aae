"""Deterministic rows of TopoAE Table 1 recomputed end to end and compared with the paper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import compose
from topoexp.run import run

SEEDS = (249040430, 621965744, 771860110, 775293950, 700134501)
METRICS = ("kl_0.01", "kl_0.1", "kl_1", "mrre", "cont", "trust", "rmse", "data_mse")
# PCA is fitted on the 85 % training part, whose membership follows the run seed's validation
# permutation. The original drew it from sacred's derived RandomState, which cannot be replayed,
# so the five training parts differ from the paper's. Every metric but KL_0.01 is insensitive to
# that (< 1 %); KL_0.01 varies by ±3 % between permutations (0.318–0.339 over our seeds; the
# authors' published PCA latents give 0.340), so it is held to 3 %.
TOLERANCE = {m: 0.01 for m in METRICS} | {"kl_0.01": 0.03}


@pytest.fixture(scope="module")
def pca_rows(tmp_path_factory) -> pd.DataFrame:
    rows = []
    for seed in SEEDS:
        out = tmp_path_factory.mktemp(f"pca_{seed}")
        cfg = compose(
            ["+experiment=spheres/pca", f"seed={seed}", "logger=none", "evaluator.plot=false"], out
        )
        rows.append(run(cfg))
    return pd.DataFrame(rows)


def test_spheres_pca_row_matches_the_paper(pca_rows, reference_dir):
    paper = pd.read_csv(reference_dir / "topoae_table1.csv").set_index(["dataset", "method"])
    expected = paper.loc[("spheres", "pca")]
    for metric in METRICS:
        ours = pca_rows[metric].mean()
        assert ours == pytest.approx(expected[metric], rel=TOLERANCE[metric]), metric


def test_spheres_pca_is_deterministic_given_the_seed(tmp_path):
    cfg = compose(
        ["+experiment=spheres/pca", f"seed={SEEDS[0]}", "logger=none", "evaluator.plot=false"],
        tmp_path,
    )
    a, b = run(cfg), run(cfg)
    assert a == b
    assert np.isfinite(list(a.values())).all()


@pytest.mark.data
@pytest.mark.parametrize("dataset", ["mnist", "fmnist"])
def test_image_pca_rows_match_the_paper(dataset, shared_dir, reference_dir, tmp_path):
    """PCA on the official MNIST / Fashion-MNIST bytes: one seed is within 1 % of the paper's
    5-seed mean for every metric (the 51,000-image training part makes PCA insensitive to it)."""
    data_dir = shared_dir / "datasets"
    if not (data_dir / ("MNIST" if dataset == "mnist" else "FashionMNIST") / "raw").is_dir():
        pytest.skip(f"{dataset} files not found under {data_dir}")
    cfg = compose(
        [
            f"+experiment={dataset}/pca",
            f"paths.data_dir={data_dir}",
            "logger=none",
            "evaluator.plot=false",
        ],
        tmp_path,
    )
    metrics = run(cfg)
    paper = pd.read_csv(reference_dir / "topoae_table1.csv").set_index(["dataset", "method"])
    expected = paper.loc[(dataset, "pca")]
    for metric in METRICS:
        # the paper prints 3 significant digits: allow its rounding on top of 1 %
        assert metrics[metric] == pytest.approx(expected[metric], rel=0.01, abs=5e-6), metric
