"""The optimise task: tiny whole runs, every TopologyLayer experiment preflights, checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import CONF_DIR, compose
from topoexp.config.validate import ConfigError
from topoexp.run import preflight, run

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment" / "toplayer").glob("*.yaml"))


def test_there_are_the_papers_experiments():
    assert len(EXPERIMENTS) >= 12
    for name in ("points_increase_h1_decrease_h0", "chair_increase_h0", "noisy_circle"):
        assert name in EXPERIMENTS


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_and_preflights(name, tmp_path):
    cfg = compose([f"+experiment=toplayer/{name}", "logger=none"], tmp_path / "run")
    task = preflight(cfg)
    assert task.job_type == "optimise"
    assert cfg.model is None and cfg.trainer is None and cfg.evaluator is None
    assert cfg.method == name or cfg.method.startswith(name)
    assert not (tmp_path / "run").exists()


def test_tiny_point_cloud_run_writes_history_parameters_and_figures(tmp_path):
    cfg = compose(
        [
            "+experiment=toplayer/points_increase_h1_decrease_h0",
            "task.steps=4",
            "task.log_every=2",
            "task.snapshots=[2]",
            "dataset.n_points=15",
            "logger=none",
        ],
        tmp_path / "run",
    )
    metrics = run(cfg)
    out = tmp_path / "run"
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    assert json.loads((out / "metrics.json").read_text()) == pytest.approx(metrics)
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == [0, 1, 2, 3, 4]
    assert metrics["loss"] == pytest.approx(history[-1]["loss"])
    assert metrics["initial_loss"] == pytest.approx(history[0]["loss"])
    # the combined objective goes down under Adam
    assert metrics["loss"] < metrics["initial_loss"]
    steps = [json.loads(line)["step"] for line in (out / "steps.jsonl").read_text().splitlines()]
    assert steps == [0, 2, 4]
    arrays = np.load(out / "parameters.npz")
    assert arrays["initial"].shape == arrays["final"].shape == (15, 2)
    assert "step_2" in arrays and not np.allclose(arrays["initial"], arrays["final"])
    assert (out / "parameters.png").stat().st_size > 0 and (out / "losses.png").exists()


def test_square_start_is_the_authors_numpy_seed_0(tmp_path):
    from topoexp.optimise.problems import PointCloud

    np.random.seed(0)
    expected = np.random.rand(100, 2)
    np.testing.assert_allclose(PointCloud().initial().numpy(), expected, rtol=1e-6)


def test_regression_run_starts_at_ols_and_improves_beta(tmp_path):
    cfg = compose(
        [
            "+experiment=toplayer/regression_123",
            "task.steps=30",
            "dataset.n_samples=60",
            "logger=none",
        ],
        tmp_path / "run",
    )
    metrics = run(cfg)
    assert metrics["beta_error"] < metrics["initial_beta_error"]
    assert metrics["prediction_mse"] == pytest.approx(metrics["beta_error"], rel=0.1)


def test_zero_steps_is_ols(tmp_path):
    cfg = compose(
        ["+experiment=toplayer/regression_sawtooth", "task.steps=0", "logger=none"],
        tmp_path / "run",
    )
    metrics = run(cfg)
    assert metrics["beta_error"] == metrics["initial_beta_error"]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["model={latent_dim: 2}"], "model"),
        (["dataset=spheres"], "dataset"),
        (["task.optimizer=lbfgs"], "task.optimizer"),
        (["task.steps=3", "task.snapshots=[5]"], "task.snapshots"),
        (["loss.barcode.terms=[{dim: 2}]"], "loss.barcode.terms"),
        (["loss.barcode.terms=[{dim: 0, i0: 0}]"], "loss.barcode.terms"),
        (["loss.barcode.lam=-1"], "loss.barcode.lam"),
        (["+loss.lam=1"], "loss.lam"),  # the key before the loss group became a dict
        (["~loss.barcode"], "loss"),  # no penalty left
        (["dataset.shape=torus"], "dataset.shape"),
    ],
)
def test_invalid_settings_name_their_key(overrides, key, tmp_path):
    cfg = compose(
        ["+experiment=toplayer/points_increase_h1", "logger=none", *overrides], tmp_path / "r"
    )
    with pytest.raises(ConfigError) as info:
        preflight(cfg)
    assert info.value.key == key


def test_problem_metrics_of_the_truth_are_zero():
    from topoexp.optimise.problems import LinearRegression

    problem = LinearRegression(beta="sawtooth", n_samples=30, sigma=0.1)
    m = problem.metrics(problem.reference())
    assert m["beta_error"] == pytest.approx(0.0, abs=1e-10)
    assert m["prediction_mse"] == pytest.approx(0.0, abs=1e-10)
    # the data term at the truth is the noise variance, about σ²
    assert float(problem.data_loss(problem.reference())) == pytest.approx(0.01, rel=0.6)


def test_mnist_digit_problem(tmp_path, datasets_root):
    root = datasets_root
    from topoexp.optimise.problems import MnistDigit

    image = MnistDigit(str(root), noise=0.0).initial()
    assert image.shape == (28, 28) and float(image.min()) >= 0 and float(image.max()) <= 1
    noisy = MnistDigit(str(root), noise=0.1).initial()
    assert float((noisy - image).std()) == pytest.approx(0.1, rel=0.15)


def test_chair_points_in_unit_cube():
    from topoexp.optimise.problems import chair_points

    pts = chair_points(200, np.random.default_rng(0))
    assert pts.shape == (200, 3) and pts.min() >= 0 and pts.max() <= 1
    assert (pts[:, 2] > 0.5).sum() > 0 and (pts[:, 2] < 0.45).sum() > 0  # back and legs
    torch.testing.assert_close(
        torch.from_numpy(pts), torch.from_numpy(chair_points(200, np.random.default_rng(0)))
    )
