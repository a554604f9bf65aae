"""COREL's one-class count scorer against a brute-force loop, scikit-learn and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from topoexp.evaluation.one_class import (
    class_aucs,
    count_scores,
    draw_support_indices,
    one_class_arrays,
    one_class_count_eval,
    one_class_metrics,
)


def brute_scores(test, support, n_branches, radius, aggregation):
    """One test point at a time, one branch at a time: the formula as written."""
    d = test.shape[1] // n_branches
    out = []
    for x in test:
        counts = []
        for b in range(n_branches):
            dist = np.abs(support[:, b * d : (b + 1) * d] - x[b * d : (b + 1) * d]).sum(1)
            counts.append(int((dist <= radius).sum()))
        out.append({"sum": sum, "max": max, "mean": np.mean}[aggregation](counts))
    return np.array(out, dtype=np.float64)


def quarter_grid(rng, shape, dtype=np.float32):
    """Coordinates on a grid of 0.25: ℓ1 distances are exact in float32, ties at r abound."""
    return (rng.integers(-6, 7, size=shape) / 4).astype(dtype)


@pytest.mark.parametrize("aggregation", ["sum", "max", "mean"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_count_scores_equal_brute_force(aggregation, dtype) -> None:
    rng = np.random.default_rng(0)
    n_branches, d = 4, 3
    test = quarter_grid(rng, (37, n_branches * d), dtype)  # not a multiple of the block
    support = quarter_grid(rng, (2, 3, 11, n_branches * d), dtype)
    scores = count_scores(test, support, n_branches, radius=1.5, aggregation=aggregation)
    assert scores.shape == (2, 3, 37)
    for r in range(2):
        for k in range(3):
            expected = brute_scores(test, support[r, k], n_branches, 1.5, aggregation)
            np.testing.assert_array_equal(scores[r, k], expected)


def test_distance_equal_to_radius_counts() -> None:
    # one branch of dimension 2; stored points at ℓ1 distance 1.0, 2.0 (= r), 2.5 from the test
    support = np.array([[[1.0, 0.0], [1.5, 0.5], [0.0, -2.5]]], dtype=np.float32)
    test = np.zeros((1, 2), dtype=np.float32)
    assert count_scores(test, support, 1, radius=2.0)[0, 0] == 2
    assert count_scores(test, support, 1, radius=2.4999)[0, 0] == 2
    assert count_scores(test, support, 1, radius=2.5)[0, 0] == 3
    assert count_scores(test, support, 1, radius=0.0)[0, 0] == 0


def test_sizes_mask_padding() -> None:
    rng = np.random.default_rng(1)
    test = quarter_grid(rng, (9, 4))
    support = quarter_grid(rng, (3, 8, 4))
    sizes = np.array([8, 5, 0])
    scores = count_scores(test, support, 2, radius=1.0, sizes=sizes)
    for k, size in enumerate(sizes):
        np.testing.assert_array_equal(
            scores[k], brute_scores(test, support[k, :size], 2, 1.0, "sum")
        )


def test_hand_made_auc() -> None:
    # two branches of dimension 1; class 0's stored latents sit at 0, class 1's at 10
    train = np.array([[0.0, 0.0], [0.5, 0.0], [10.0, 10.0], [10.0, 11.0]])
    train_labels = np.array([0, 0, 1, 1])
    test = np.array([[0.0, 0.0], [2.5, 0.0], [10.0, 10.0], [5.0, 5.0]])
    test_labels = np.array([0, 0, 1, 1])
    res = one_class_count_eval(
        train, train_labels, test, test_labels, n_branches=2, m_values=[2], runs=1, radius=2.0
    )["2"]
    # class 0 scores: [2 + 2, 0 + 2 (|2.5 − 0.5| = 2 counts), 0, 0]; class 1: [0, 0, 1 + 2, 0]
    expected0 = roc_auc_score([1, 1, 0, 0], [4, 2, 0, 0])
    expected1 = roc_auc_score([0, 0, 1, 1], [0, 0, 3, 0])
    np.testing.assert_allclose(res.auc, [[expected0, expected1]])
    assert res.auc[0, 0] == 1.0 and res.auc[0, 1] == 0.75
    assert res.mean_auc == pytest.approx(0.875)
    assert res.metrics() == {"auc_m2": 0.875, "auc_m2_class0": 1.0, "auc_m2_class1": 0.75}


def test_draws() -> None:
    labels = np.repeat(np.arange(4), [50, 30, 7, 40])
    draws = draw_support_indices(labels, [5, 20, "all"], runs=3, seed=7)
    assert list(draws) == ["5", "20", "all"]
    assert draws["5"].shape == (3, 4, 5) and draws["20"].shape == (3, 4, 20)
    assert draws["all"].shape == (1, 4, 50)
    # nested, within the class, without replacement, seeded, capped at the class size
    np.testing.assert_array_equal(draws["20"][..., :5], draws["5"])
    for r in range(3):
        for c in range(4):
            row = draws["20"][r, c]
            valid = row[row >= 0]
            assert len(valid) == min(20, np.sum(labels == c))
            assert np.all(labels[valid] == c) and len(np.unique(valid)) == len(valid)
    assert np.all(draws["20"][:, 2, 7:] == -1)
    assert not np.array_equal(draws["20"][0], draws["20"][1])  # runs differ
    again = draw_support_indices(labels, [5, 20, "all"], runs=3, seed=7)
    assert all(np.array_equal(draws[k], again[k]) for k in draws)
    np.testing.assert_array_equal(np.sort(draws["all"][0, 1, :30]), np.flatnonzero(labels == 1))


def test_draws_are_uniform() -> None:
    """Each training index of a class is drawn with probability m / n_c."""
    labels = np.zeros(10, dtype=int)
    draws = draw_support_indices(labels, [3], runs=4000, seed=0)["3"]
    freq = np.bincount(draws.ravel(), minlength=10) / 4000
    np.testing.assert_allclose(freq, 0.3, atol=0.03)


def test_independent_draws() -> None:
    labels = np.repeat(np.arange(2), [50, 30])
    draws = draw_support_indices(labels, [5, 20], runs=3, seed=7, nested=False)
    assert draws["5"].shape == (3, 2, 5) and draws["20"].shape == (3, 2, 20)
    assert not np.array_equal(draws["20"][..., :5], draws["5"])
    for key in draws:
        for r, c in np.ndindex(3, 2):
            row = draws[key][r, c]
            assert np.all(labels[row] == c) and len(np.unique(row)) == len(row)


@pytest.mark.parametrize("nested", [True, False])
def test_eval_equals_brute_force_per_point_loop(nested) -> None:
    rng = np.random.default_rng(2)
    n_branches, d = 3, 2
    train = quarter_grid(rng, (300, n_branches * d))
    train_labels = rng.integers(0, 3, 300)
    test = quarter_grid(rng, (50, n_branches * d))
    test_labels = rng.integers(0, 3, 50)
    results = one_class_count_eval(
        train,
        train_labels,
        test,
        test_labels,
        n_branches=n_branches,
        m_values=[4, 10, "all"],
        runs=2,
        radius=1.0,
        aggregation="max",
        seed=3,
        nested=nested,
    )
    assert list(results) == ["4", "10", "all"]
    for key, res in results.items():
        runs = 1 if key == "all" else 2
        m = res.indices.shape[2]
        assert res.support_latents.shape == (runs, 3, m, n_branches * d)
        assert res.auc.shape == (runs, 3)
        for r in range(runs):
            for c in range(3):
                idx = res.indices[r, c]
                idx = idx[idx >= 0]
                np.testing.assert_array_equal(res.support_latents[r, c, : len(idx)], train[idx])
                assert np.isnan(res.support_latents[r, c, len(idx) :]).all()
                s = brute_scores(test, train[idx], n_branches, 1.0, "max")
                assert res.auc[r, c] == pytest.approx(roc_auc_score(test_labels == c, s))
        assert set(res.metrics()) == {f"auc_m{key}"} | {f"auc_m{key}_class{c}" for c in range(3)}
        assert res.mean_auc == pytest.approx(res.auc.mean(0).mean())


def test_npz_arrays_and_metrics() -> None:
    rng = np.random.default_rng(4)
    train, test = quarter_grid(rng, (60, 4)), quarter_grid(rng, (20, 4))
    test_labels = np.arange(20) % 2
    results = one_class_count_eval(
        train, np.arange(60) % 2, test, test_labels, n_branches=2, m_values=[3, "all"], runs=2
    )
    arrays = one_class_arrays(results, test, test_labels)
    assert set(arrays) == {
        "test_latents",
        "test_labels",
        "classes",
        "support_latents_m3",
        "support_indices_m3",
        "auc_m3",
        "support_latents_mall",
        "support_indices_mall",
        "auc_mall",
    }
    assert arrays["support_latents_m3"].shape == (2, 2, 3, 4)
    assert arrays["support_latents_mall"].shape == (1, 2, 30, 4)
    metrics = one_class_metrics(results)
    assert set(metrics) == {
        f"auc_m{m}{c}" for m in ("3", "all") for c in ("", "_class0", "_class1")
    }


def test_identical_latents_give_half() -> None:
    """All latents far apart (λ = 0 regime): every score is 0 and every AUC 0.5."""
    train = np.arange(40, dtype=np.float32)[:, None] * 100.0
    test = np.arange(40, 60, dtype=np.float32)[:, None] * 100.0
    res = one_class_count_eval(
        train, np.arange(40) % 2, test, np.arange(20) % 2, n_branches=1, m_values=[5], runs=2
    )["5"]
    np.testing.assert_array_equal(res.auc, 0.5)


def test_class_aucs_requires_both_labels() -> None:
    with pytest.raises(ValueError, match="class 5"):
        class_aucs(np.zeros((1, 1, 4)), np.zeros(4), [5])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"m_values": [0]}, "m_values"),
        ({"m_values": ["some"]}, "m_values"),
        ({"m_values": [5, 5]}, "distinct"),
        ({"aggregation": "median"}, "aggregation"),
        ({"radius": -1.0}, "radius"),
        ({"n_branches": 3}, "n_branches"),
        ({"runs": 0}, "runs"),
    ],
)
def test_validation(kwargs, match) -> None:
    rng = np.random.default_rng(0)
    args = {
        "train_latents": rng.normal(size=(20, 4)),
        "train_labels": np.arange(20) % 2,
        "test_latents": rng.normal(size=(6, 4)),
        "test_labels": np.arange(6) % 2,
        "n_branches": 2,
        "m_values": [3],
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        one_class_count_eval(**args)


def test_class_chunks_give_the_same_aucs(monkeypatch) -> None:
    """Many classes are scored in chunks (bounded memory) with the same result."""
    from topoexp.evaluation import one_class

    rng = np.random.default_rng(5)
    train, test = quarter_grid(rng, (200, 4)), quarter_grid(rng, (40, 4))
    args = (train, np.arange(200) % 5, test, np.arange(40) % 5)
    kwargs = {"n_branches": 2, "m_values": [4, 9, "all"], "runs": 3, "radius": 1.0}
    whole = one_class_count_eval(*args, **kwargs)
    monkeypatch.setattr(one_class, "_SCORE_BYTES", 1)  # one class per chunk
    chunked = one_class_count_eval(*args, **kwargs)
    for key in whole:
        np.testing.assert_array_equal(whole[key].auc, chunked[key].auc)
