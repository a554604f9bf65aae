"""The SPHERES generator and its splits against the published reference."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from topoexp.data.base import as_arrays
from topoexp.data.spheres import load_spheres, make_spheres


def test_raw_array_is_byte_identical_to_the_reference(reference_dir):
    expected = json.loads((reference_dir / "spheres_latents" / "expected_metrics.json").read_text())
    X, y = make_spheres()
    assert X.shape == (10_000, 101) and X.dtype == np.float32
    assert hashlib.sha256(X.tobytes()).hexdigest() == expected["spheres_raw_sha256_float32"]
    np.testing.assert_array_equal(np.bincount(y), [500] * 10 + [5000])


def test_geometry_small_spheres_radius_5_big_sphere_radius_25():
    X, y = make_spheres()
    big = X[y == 10]
    np.testing.assert_allclose(np.linalg.norm(big, axis=1), 25.0, rtol=1e-5)
    for label in range(10):
        points = X[y == label]
        centre_guess = points.mean(axis=0)
        radii = np.linalg.norm(points - centre_guess, axis=1)
        assert abs(radii.mean() - 5.0) < 0.2


def test_splits_sizes_normalisation_and_published_test_order(reference_dir):
    data = load_spheres(split_seed=249040430)
    assert (len(data.fit), len(data.train), len(data.validation), len(data.test)) == (
        9000,
        7650,
        1350,
        1000,
    )
    X_fit, _ = as_arrays(data.fit)
    np.testing.assert_allclose(X_fit.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(X_fit.std(axis=0), 1.0, atol=1e-4)
    _, y_test = as_arrays(data.test)
    published = pd.read_csv(reference_dir / "spheres_latents" / "spheres_TopoAE.csv")
    np.testing.assert_array_equal(published["labels"].to_numpy().astype(int), y_test)
    assert set(data.train.indices).isdisjoint(data.validation.indices)


def test_validation_split_follows_the_run_seed_and_data_do_not():
    a, b = load_spheres(split_seed=1), load_spheres(split_seed=2)
    assert a.train.indices != b.train.indices
    np.testing.assert_array_equal(as_arrays(a.test)[0], as_arrays(b.test)[0])
