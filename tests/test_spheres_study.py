"""The reproduction study's SPHERES definitions as switches: un-standardised coordinates and the
big sphere holding twice the small spheres' points; the defaults stay the TopoAE code's."""

from __future__ import annotations

import numpy as np
from hydra.utils import instantiate

from tests.conftest import compose
from topoexp.data.base import as_arrays
from topoexp.data.spheres import load_spheres, make_spheres
from topoexp.data.splits import train_test_indices


def test_the_default_is_the_codes_generator():
    X, y = make_spheres()
    X10, y10 = make_spheres(big_factor=10)
    np.testing.assert_array_equal(X, X10)
    np.testing.assert_array_equal(y, y10)


def test_big_factor_20_gives_the_studys_two_to_one_and_keeps_the_small_spheres():
    X, _ = make_spheres()
    X20, y20 = make_spheres(big_factor=20)
    assert X20.shape == (15_000, 101)
    counts = np.bincount(y20)
    np.testing.assert_array_equal(counts, [500] * 10 + [10_000])
    assert counts[10] == 2 * counts[:10].sum()
    # the enclosing sphere is drawn last: the small spheres are the same points
    np.testing.assert_array_equal(X20[:5000], X[:5000])
    np.testing.assert_allclose(np.linalg.norm(X20[y20 == 10], axis=1), 25.0, rtol=1e-5)


def test_standardise_false_keeps_the_raw_coordinates():
    raw = load_spheres(standardise=False, split_seed=1)
    scaled = load_spheres(split_seed=1)
    X, _ = make_spheres()
    _, test_idx = train_test_indices(len(X), 0.1, 42)
    np.testing.assert_array_equal(as_arrays(raw.test)[0], X[test_idx])
    X_fit, _ = as_arrays(scaled.fit)
    np.testing.assert_allclose(X_fit.std(axis=0), 1.0, atol=1e-4)
    raw_fit, y_fit = as_arrays(raw.fit)
    np.testing.assert_allclose(np.linalg.norm(raw_fit[y_fit == 10], axis=1), 25.0, rtol=1e-5)
    # same split and order either way: only the scale differs
    np.testing.assert_array_equal(as_arrays(raw.test)[1], as_arrays(scaled.test)[1])


def test_the_study_experiments_expose_both_switches():
    cfg = compose(["+experiment=study/spheres_topoae"])
    assert cfg.dataset.standardise is True and cfg.dataset.big_factor == 10
    cfg = compose(
        ["+experiment=study/spheres_ae", "dataset.standardise=false", "dataset.big_factor=20"]
    )
    data = instantiate(cfg.dataset, split_seed=0)
    # 15,000 points, 60/20/20: 12,000 fit (9,000 train + 3,000 validation) and 3,000 test
    assert (len(data.fit), len(data.train), len(data.validation), len(data.test)) == (
        12_000,
        9_000,
        3_000,
        3_000,
    )
    X_fit, y_fit = as_arrays(data.fit)
    np.testing.assert_allclose(np.linalg.norm(X_fit[y_fit == 10], axis=1), 25.0, rtol=1e-5)
    assert np.bincount(y_fit)[10] > 7_000  # about two thirds of the points
