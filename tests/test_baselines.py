"""Competitor estimators of the TopoAE benchmark (spec §2.6, §3.1)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, Isomap, trustworthiness

from topoexp.models.baselines import has_inverse, has_transform, make_baseline
from topoexp.models.tsne import OpenTSNE


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(60, 5))


def test_pca_factory_seed_and_inverse(data: np.ndarray) -> None:
    pca = make_baseline("PCA", {}, seed=3)
    assert isinstance(pca, PCA)
    assert pca.n_components == 2 and pca.random_state == 3
    assert has_transform(pca) and has_inverse(pca)
    rank2 = data[:, :2] @ np.random.default_rng(1).normal(size=(2, 5)) + 1.5
    z = pca.fit(rank2).transform(rank2)
    assert z.shape == (60, 2)
    np.testing.assert_allclose(pca.inverse_transform(z), rank2, atol=1e-10)


def test_sklearn_tsne_protocol_settings() -> None:
    params = {"perplexity": 35.4319, "learning_rate": 10.3280, "n_iter": 1500}
    tsne = make_baseline("t-SNE", {**params, "implementation": "sklearn"}, seed=7)
    assert isinstance(tsne, TSNE)
    assert tsne.perplexity == 35.4319 and tsne.max_iter == 1500
    assert tsne.learning_rate == pytest.approx(10.3280 / 4)  # MulticoreTSNE convention
    assert tsne.init == "random" and tsne.early_exaggeration == 12.0
    assert tsne.n_iter_without_progress == 1500 and tsne.min_grad_norm == 0.0
    assert tsne.random_state == 7 and tsne.n_components == 2
    plain = make_baseline(
        "tsne", {"learning_rate": 200.0, "lr_convention": "sklearn", "implementation": "sklearn"}, 0
    )
    assert plain.learning_rate == 200.0
    auto = make_baseline("tsne", {"learning_rate": "auto", "implementation": "sklearn"}, seed=0)
    assert auto.learning_rate == "auto"


def test_opentsne_protocol_settings() -> None:
    """openTSNE counts the 250 exaggeration iterations apart and reads bhtsne's learning rate."""
    tsne = make_baseline("tsne", {"perplexity": 35.4319, "learning_rate": 10.328}, seed=7)
    assert isinstance(tsne, OpenTSNE) and tsne.random_state == 7
    inner = tsne._estimator()
    assert inner.early_exaggeration_iter == 250 and inner.n_iter == 1250  # 1500 in all
    assert inner.learning_rate == 10.328 and inner.early_exaggeration == 12.0
    assert inner.initial_momentum == 0.5 and inner.final_momentum == 0.8
    assert inner.max_step_norm is None and inner.initialization == "random"
    assert inner.theta == 0.5 and inner.negative_gradient_method == "auto"
    as_sklearn = make_baseline("tsne", {"learning_rate": 50.0, "lr_convention": "sklearn"}, 0)
    assert as_sklearn._estimator().learning_rate == 200.0


@pytest.mark.parametrize("implementation", ["opentsne", "sklearn"])
def test_tsne_has_no_transform(data: np.ndarray, implementation: str) -> None:
    params = {"perplexity": 5.0, "max_iter": 300, "implementation": implementation}
    tsne = make_baseline("tsne", params, seed=0)
    assert not has_transform(tsne) and not has_inverse(tsne)
    assert tsne.fit_transform(data).shape == (60, 2)


def test_opentsne_agrees_with_sklearn_and_is_seeded() -> None:
    """Both libraries find the same objective value and neighbourhoods on clustered data."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=8.0, size=(4, 10))
    X = np.concatenate([c + rng.normal(size=(75, 10)) for c in centres])
    params = {"perplexity": 20.0, "learning_rate": 100.0, "max_iter": 600}
    ours = make_baseline("tsne", params, seed=1)
    peer = make_baseline("tsne", {**params, "implementation": "sklearn"}, seed=1)
    z_ours, z_peer = ours.fit_transform(X), peer.fit_transform(X)
    assert ours.kl_divergence_ == pytest.approx(peer.kl_divergence_, rel=0.1)
    trust = [trustworthiness(X, z, n_neighbors=10) for z in (z_ours, z_peer)]
    assert trust[0] == pytest.approx(trust[1], abs=0.01) and min(trust) > 0.9
    again = make_baseline("tsne", params, seed=1).fit_transform(X)
    np.testing.assert_array_equal(again, z_ours)


def test_isomap_factory(data: np.ndarray) -> None:
    iso = make_baseline("Isomap", {"n_neighbors": 25}, seed=5)
    assert isinstance(iso, Isomap)
    assert iso.n_neighbors == 25 and iso.n_jobs == 4 and iso.n_components == 2
    assert "random_state" not in iso.get_params()
    assert has_transform(iso) and not has_inverse(iso)


def test_umap_factory() -> None:
    umap = make_baseline("UMAP", {"n_neighbors": 118, "min_dist": 0.709743}, seed=4)
    assert type(umap).__name__ == "UMAP"
    assert umap.n_neighbors == 118 and umap.min_dist == 0.709743
    assert umap.metric == "euclidean" and umap.random_state == 4 and umap.n_components == 2
    assert has_transform(umap) and not has_inverse(umap)  # no Data MSE for UMAP


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("lle", {}, "unknown baseline"),
        ("pca", {"random_state": 1}, "random_state"),
        ("tsne", {"n_iter": 1000, "max_iter": 1000}, "n_iter"),
        ("tsne", {"lr_convention": "openTSNE"}, "lr_convention"),
        ("tsne", {"implementation": "multicore"}, "implementation"),
        ("tsne", {"max_iter": 250}, "max_iter"),
    ],
)
def test_factory_errors(name: str, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_baseline(name, params, seed=0)


def test_pca_reproducible_with_seed(data: np.ndarray) -> None:
    def run(seed: int) -> np.ndarray:
        pca = make_baseline("pca", {"svd_solver": "randomized"}, seed=seed)
        return pca.fit(data).transform(data)

    np.testing.assert_array_equal(run(11), run(11))


@pytest.mark.slow
def test_umap_reproducible_with_seed(data: np.ndarray) -> None:
    def run(seed: int) -> np.ndarray:
        umap = make_baseline("umap", {"n_neighbors": 10, "n_epochs": 50}, seed=seed)
        return umap.fit(data).transform(data[:5])

    np.testing.assert_array_equal(run(2), run(2))
