"""OC-SVM and KDE one-class baselines: same draws as the count scorer, rules, scikit-learn AUCs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KernelDensity
from sklearn.svm import OneClassSVM

from topoexp.evaluation.one_class import one_class_count_eval
from topoexp.evaluation.one_class_baselines import (
    kde_bandwidth,
    kde_scores,
    ocsvm_gamma,
    ocsvm_scores,
    one_class_baseline_eval,
)


def blobs(rng, n_per_class, n_classes=3, d=4):
    centres = rng.normal(scale=4.0, size=(n_classes, d))
    labels = np.repeat(np.arange(n_classes), n_per_class)
    return centres[labels] + rng.normal(size=(len(labels), d)), labels


def test_rules() -> None:
    rng = np.random.default_rng(0)
    S = rng.normal(scale=2.0, size=(50, 6))
    assert ocsvm_gamma(S) == pytest.approx(1.0 / (6 * S.var()))
    # sklearn's "scale" rule on the support set is the same number
    model = OneClassSVM(gamma="scale").fit(S)
    assert model._gamma == pytest.approx(ocsvm_gamma(S))
    sigma = np.sqrt(S.var(axis=0).mean())
    assert kde_bandwidth(S, "scott") == pytest.approx(sigma * 50 ** (-1 / 10))
    assert kde_bandwidth(S, "silverman") == pytest.approx(sigma * (50 * 8 / 4) ** (-1 / 10))
    assert kde_bandwidth(S, 0.7) == 0.7
    h = kde_bandwidth(S, "cv")
    assert np.isclose(h / kde_bandwidth(S, "scott"), np.geomspace(0.25, 4.0, 9)).any()
    # the CV choice maximises scikit-learn's held-out log-likelihood over the same grid
    from sklearn.model_selection import GridSearchCV, KFold

    grid = kde_bandwidth(S, "scott") * np.geomspace(0.25, 4.0, 9)
    search = GridSearchCV(KernelDensity(), {"bandwidth": grid}, cv=KFold(5)).fit(S)
    assert h == pytest.approx(search.best_params_["bandwidth"])


def test_scores_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    S, T = rng.normal(size=(40, 3)), rng.normal(size=(25, 3))
    expected = OneClassSVM(nu=0.1, gamma=1 / (3 * S.var())).fit(S).decision_function(T)
    np.testing.assert_allclose(ocsvm_scores(S, T), expected)
    h = kde_bandwidth(S)
    np.testing.assert_allclose(kde_scores(S, T), KernelDensity(bandwidth=h).fit(S).score_samples(T))


@pytest.mark.parametrize("method", ["ocsvm", "kde"])
def test_eval_uses_the_count_scorers_draws(method) -> None:
    rng = np.random.default_rng(2)
    train, train_labels = blobs(rng, 40)
    test, test_labels = blobs(np.random.default_rng(2), 10)
    test = test + rng.normal(scale=0.1, size=test.shape)
    kwargs = {"m_values": [5, 12], "runs": 2, "seed": 4}
    res = one_class_baseline_eval(train, train_labels, test, test_labels, method=method, **kwargs)
    ref = one_class_count_eval(train, train_labels, test, test_labels, n_branches=1, **kwargs)
    for key in ("5", "12"):
        np.testing.assert_array_equal(res[key].indices, ref[key].indices)
        assert res[key].auc.shape == (2, 3) and res[key].support_latents is None
        idx = res[key].indices[1, 2]
        score = ocsvm_scores if method == "ocsvm" else kde_scores
        auc = roc_auc_score(test_labels == 2, score(train[idx], test))
        assert res[key].auc[1, 2] == pytest.approx(auc)
        assert res[key].mean_auc > 0.9  # well separated blobs


def test_images_are_flattened() -> None:
    rng = np.random.default_rng(3)
    train = rng.random((30, 1, 4, 4))
    res = one_class_baseline_eval(
        train, np.arange(30) % 2, rng.random((8, 1, 4, 4)), np.arange(8) % 2, "kde", [5], runs=1
    )
    assert res["5"].auc.shape == (1, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"method": "svdd"}, "method"), ({"nu": 0.0}, "nu"), ({"bandwidth": "rot"}, "bandwidth")],
)
def test_validation(kwargs, match) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=match):
        one_class_baseline_eval(
            rng.random((10, 2)), np.arange(10) % 2, rng.random((4, 2)), np.arange(4) % 2, **kwargs
        )


@pytest.fixture(scope="module")
def mnist_pixels(shared_dir):
    """A slice of MNIST as [0, 1] pixel vectors: 3,000 training and 1,000 test images."""
    from topoexp.data.images import load_image_dataset

    root = shared_dir / "datasets"
    if not (root / "MNIST" / "raw").is_dir():
        pytest.skip(f"MNIST raw files not found under {root}")
    ds = load_image_dataset("mnist", root, transform="corel")
    fit, test = ds.fit, ds.test
    x_fit = fit.data[:3000].reshape(3000, -1).numpy() / 255.0
    x_test = test.data[:1000].reshape(1000, -1).numpy() / 255.0
    return x_fit, fit.targets[:3000].numpy(), x_test, test.targets[:1000].numpy()


@pytest.mark.data
@pytest.mark.parametrize("method", ["ocsvm", "kde"])
def test_pixel_baselines_on_mnist(mnist_pixels, method) -> None:
    """Raw-pixel baselines with m = 120 separate MNIST digits well (Deep SVDD's table, with all
    ~6,000 images per class: KDE 0.81, OC-SVM 0.91 mean AUC)."""
    res = one_class_baseline_eval(*mnist_pixels, method=method, m_values=[120], runs=1)["120"]
    assert 0.85 < res.mean_auc < 1.0  # measured: OC-SVM 0.902, KDE 0.905 (seed 0)
