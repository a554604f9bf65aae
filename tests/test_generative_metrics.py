"""Generative metrics against independent computations: closed forms, the prdc package, hands."""

from __future__ import annotations

import math

import numpy as np
import prdc as prdc_package
import pytest
import scipy.linalg
import torch

from topoexp.evaluation.generative import (
    ClassifierOutputs,
    class_coverage,
    classifier_outputs,
    evaluate_samples,
    fid_kid,
    inception_score,
)
from topoexp.evaluation.prdc import kth_neighbour_radii, prdc
from topoexp.models.classifier import ClassifierFeatures, SmallCNN


def with_moments(n: int, mean: np.ndarray, cov: np.ndarray, seed: int) -> torch.Tensor:
    """n points whose sample mean and unbiased sample covariance are exactly ``mean``, ``cov``."""
    x = np.random.default_rng(seed).normal(size=(n, len(mean)))
    x -= x.mean(0)
    x = x @ np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False))).T  # sample cov = I
    return torch.from_numpy(x @ np.linalg.cholesky(cov).T + mean)


def tiny_classifier() -> SmallCNN:
    """The stand-in for the trained classifiers: same class, few channels, seeded weights."""
    torch.manual_seed(0)
    return SmallCNN(channels=(2, 4), hidden=8).eval()


# -------------------------------------------------------------------------------------- FID


def test_fid_of_gaussians_with_diagonal_covariances_has_the_closed_form():
    # Commuting covariances: FID = ‖μ1 − μ2‖² + Σ_i (σ1_i − σ2_i)².
    mu1, mu2 = np.array([0.0, 1.0, -1.0, 2.0]), np.array([1.0, 1.0, 0.0, 0.0])
    s1, s2 = np.array([1.0, 2.0, 0.5, 3.0]), np.array([2.0, 2.0, 1.5, 1.0])
    real = with_moments(50, mu1, np.diag(s1**2), seed=0)
    fake = with_moments(70, mu2, np.diag(s2**2), seed=1)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2)  # 6 + 6 = 12
    assert fid_kid(real, fake, kid_subsets=1, kid_subset_size=10)["fid"] == pytest.approx(
        expected, rel=1e-9
    )


def test_fid_of_general_gaussians_matches_the_direct_formula():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    cov1, cov2 = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    real, fake = with_moments(40, mu1, cov1, 3), with_moments(40, mu2, cov2, 4)
    root = scipy.linalg.sqrtm(cov1 @ cov2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - 2 * root)
    got = fid_kid(real, fake, kid_subsets=1, kid_subset_size=10)["fid"]
    assert got == pytest.approx(expected, rel=1e-8)


# -------------------------------------------------------------------------------------- KID


def unbiased_poly_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """MMD² with k(a, b) = (a·b / d + 1)³, the unbiased estimator, written out directly."""
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b.T / d + 1.0) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    off = lambda K: K.sum() - np.trace(K)  # noqa: E731
    return (off(kxx) + off(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / m**2


def test_kid_with_one_full_subset_is_the_unbiased_mmd():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 6)), rng.normal(loc=0.5, size=(30, 6))
    got = fid_kid(torch.from_numpy(x), torch.from_numpy(y), kid_subsets=1, kid_subset_size=30)
    assert got["kid_mean"] == pytest.approx(unbiased_poly_mmd2(x, y), rel=1e-10)
    assert got["kid_std"] == 0.0


def test_kid_subsets_are_seeded_and_leave_the_global_rng_alone():
    x, y = torch.randn(60, 4, dtype=torch.float64), torch.randn(60, 4, dtype=torch.float64)
    torch.manual_seed(123)
    a = fid_kid(x, y, kid_subsets=5, kid_subset_size=20, seed=7)
    after = torch.rand(1)
    torch.manual_seed(123)
    b = fid_kid(x, y, kid_subsets=5, kid_subset_size=20, seed=7)
    assert a == b and torch.equal(after, torch.rand(1))
    assert fid_kid(x, y, kid_subsets=5, kid_subset_size=20, seed=8)["kid_mean"] != a["kid_mean"]


def test_torchmetrics_with_the_classifier_module_gives_the_same_values():
    """The pass-through route equals torchmetrics fed the classifier's feature module."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    clf = tiny_classifier()
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.rand(40, 1, 28, 28, generator=gen), torch.rand(40, 1, 28, 28, generator=gen)
    fid = FrechetInceptionDistance(feature=ClassifierFeatures(clf)).set_dtype(torch.float64)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    ours = fid_kid(
        classifier_outputs(clf, real).features, classifier_outputs(clf, fake).features, 1, 10
    )
    assert ours["fid"] == pytest.approx(float(fid.compute()), rel=1e-6)


# ------------------------------------------------------------------------------------- PRDC


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("shift", [0.0, 0.7])
def test_prdc_matches_the_prdc_package(k, shift, capsys):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(300, 8))
    fake = rng.normal(loc=shift, scale=1.3, size=(250, 8))
    expected = prdc_package.compute_prdc(real, fake, nearest_k=k)
    got = prdc(torch.from_numpy(real), torch.from_numpy(fake), k=k, block=64)  # several blocks
    for key, value in expected.items():
        assert got[key] == pytest.approx(float(value), abs=1e-12), key


def test_prdc_hand_case():
    """1-D, k = 1. Real {0, 1, 3}: radii 1, 1, 2. Fake {0.5, 2.5, 10}: radii 2, 2, 7.5.

    0.5 lies in the balls of 0 and 1, 2.5 in that of 3, 10 in none: precision 2/3,
    density (2 + 1 + 0) / 3 = 1. Every real point is within its radius of a fake one
    (coverage 1) and within 2 of 0.5 or 2.5 (recall 1).
    """
    real = torch.tensor([[0.0], [1.0], [3.0]])
    fake = torch.tensor([[0.5], [2.5], [10.0]])
    torch.testing.assert_close(
        kth_neighbour_radii(real, 1), torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64)
    )
    got = prdc(real, fake, k=1)
    assert got == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "density": 1.0, "coverage": 1.0}
    )


def test_prdc_balls_are_open():
    """A fake point exactly at a real point's k-NN radius is outside its ball (as in prdc)."""
    real = torch.tensor([[0.0], [1.0], [3.0]])
    got = prdc(real, torch.tensor([[-1.0], [5.0], [20.0]]), k=1)
    assert got["precision"] == 0.0 and got["coverage"] == 0.0 and got["density"] == 0.0


def test_samples_equal_to_real_give_the_floor():
    feats = torch.from_numpy(np.random.default_rng(0).normal(size=(400, 6)))
    logits = torch.randn(400, 10)
    out = ClassifierOutputs(feats, logits)
    m = evaluate_samples(out, out, kid_subsets=20, kid_subset_size=100)
    assert abs(m["fid"]) < 1e-9
    assert abs(m["kid_mean"]) < 3 * m["kid_std"] + 1e-4
    assert m["precision"] == m["recall"] == m["coverage"] == 1.0
    assert m["density"] == pytest.approx(1.0)  # each real ball holds itself + k − 1 others


# ------------------------------------------------------------------- classes and Inception score


def test_inception_score_by_hand():
    n_classes = 4
    uniform = torch.zeros(8, n_classes)
    assert inception_score(uniform) == pytest.approx(1.0)
    one_hot = torch.full((8, n_classes), -torch.inf)
    one_hot[torch.arange(8), torch.arange(8) % n_classes] = 0.0
    assert inception_score(one_hot) == pytest.approx(n_classes)  # p(y) uniform, KL = log 4
    same = torch.full((8, n_classes), -torch.inf)
    same[:, 2] = 0.0
    assert inception_score(same) == pytest.approx(1.0)
    # p1 = (1/2, 1/2), p2 = (1, 0): p(y) = (3/4, 1/4).
    logits = torch.tensor([[0.0, 0.0], [0.0, -torch.inf]])
    kl1 = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    kl2 = math.log(1 / 0.75)
    assert inception_score(logits) == pytest.approx(math.exp((kl1 + kl2) / 2))


def test_class_coverage_by_hand():
    preds = torch.tensor([0] * 50 + [1] * 30 + [2] * 16 + [3] * 4)  # shares .5 .3 .16 .04
    logits = torch.nn.functional.one_hot(preds, 10).double()
    got = class_coverage(logits)
    shares = np.array([0.5, 0.3, 0.16, 0.04])
    assert got["classes_covered"] == 3.0
    assert got["class_entropy"] == pytest.approx(-(shares * np.log(shares)).sum())


# --------------------------------------------------------------------------------- end to end


def test_evaluate_samples_with_a_stand_in_classifier():
    clf = tiny_classifier()
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(120, 1, 28, 28, generator=gen)
    fake = torch.rand(100, 784, generator=gen) ** 2  # flat samples are accepted
    m = evaluate_samples(fake, real, clf, kid_subsets=10, kid_subset_size=50)
    assert set(m) == {
        "fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage",
        "inception_score", "class_entropy", "classes_covered", "n_samples", "n_real",
    }  # fmt: skip
    assert all(isinstance(v, float) and math.isfinite(v) for v in m.values())
    assert m["fid"] > 0 and (m["n_samples"], m["n_real"]) == (100.0, 120.0)
    floor = evaluate_samples(real, real, clf, kid_subsets=10, kid_subset_size=50)
    assert floor["fid"] < 1e-6 < m["fid"] and floor["coverage"] == 1.0


def test_images_need_a_classifier():
    with pytest.raises(ValueError, match="classifier"):
        evaluate_samples(torch.rand(10, 784), torch.rand(10, 784))


def test_evaluate_generator_samples_the_prior_and_adds_the_latent_metrics():
    from topoexp.evaluation.generative import evaluate_generator
    from topoexp.losses.objective import Objective
    from topoexp.losses.regularisers import Homological
    from topoexp.models.generative import GenerativeAE

    torch.manual_seed(0)
    model, clf = GenerativeAE(latent_dim=2), tiny_classifier()
    Objective(model, {"homological": Homological()})  # prior auto -> the unit ball
    assert model.prior == "ball"
    test = torch.rand(80, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    samples, m = evaluate_generator(model, test, clf, n_samples=60, latent_batch_size=16)
    assert samples.shape == (60, 1, 28, 28) and 0 <= samples.min() <= samples.max() <= 1
    again, _ = evaluate_generator(model, test, clf, n_samples=60, latent_batch_size=16)
    assert torch.equal(samples, again)  # seeded
    assert {"fid", "coverage", "inception_score", "reconstruction_bce", "fraction_in_ball"} <= set(
        m
    )
    assert m["n_samples"] == 60.0 and m["n_real"] == 80.0


@pytest.mark.data
@pytest.mark.slow
def test_real_mnist_floor(shared_dir):
    """Real test images against real training images, in the committed classifier's features."""
    from topoexp.evaluation.image_tensors import image_tensors
    from topoexp.models.classifier import load_classifier

    root = shared_dir / "datasets"
    try:
        test, _ = image_tensors("mnist", root, "test")
        train, _ = image_tensors("mnist", root, "fit")
    except FileNotFoundError:
        pytest.skip(f"MNIST not found under {root}")
    m = evaluate_samples(test[:3000], train[:3000], load_classifier("mnist"), kid_subsets=20)
    noise = evaluate_samples(torch.rand(3000, 784), train[:3000], load_classifier("mnist"))
    assert m["classes_covered"] == 10 and m["inception_score"] > 9
    assert m["precision"] > 0.85 and m["recall"] > 0.85 and m["coverage"] > 0.7
    assert m["fid"] < 0.05 * noise["fid"] and m["kid_mean"] < 0.05 * noise["kid_mean"]
