"""Figure 2's toy example and the (α̂, ε̂, β̂) death-time statistics over random batches."""

from __future__ import annotations

import numpy as np
import pytest
import ripser
import torch
from scipy.spatial.distance import cdist

from topoexp.evaluation.death_times import batch_death_times, death_time_summary
from topoexp.losses.connectivity_toy import ToyMLP, three_gaussians, train_toy


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: extra torch threads only wait on each other on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_three_gaussians() -> None:
    X, comp = three_gaussians(2000, seed=1)
    assert X.shape == (6000, 2) and X.dtype == np.float32
    for c, (mean, std) in enumerate(zip([(-4, -4), (-3, -3), (0, -0.5)], [1, 3, 0.5], strict=True)):
        np.testing.assert_allclose(X[comp == c].mean(0), mean, atol=0.2)
        np.testing.assert_allclose(X[comp == c].std(0), std, rtol=0.1)
    np.testing.assert_array_equal(three_gaussians(5, seed=3)[0], three_gaussians(5, seed=3)[0])


def test_toy_mlp() -> None:
    model = ToyMLP()
    assert [m.out_features for m in model if isinstance(m, torch.nn.Linear)] == [20, 20, 2]
    assert sum(isinstance(m, torch.nn.LeakyReLU) for m in model) == 2
    assert ToyMLP(hidden=[10, 10])(torch.zeros(3, 2)).shape == (3, 2)


def test_batch_death_times_match_ripser() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 6))  # 2 branches of 3 dimensions
    deaths = batch_death_times(points, n_branches=2, batch_size=12, n_batches=4, seed=5)
    assert deaths.shape == (2, 4, 11)
    rows = np.argsort(np.random.default_rng(5).random((4, 60)), axis=1)[:, :12]
    for b in range(2):
        for k in range(4):
            P = points[rows[k], 3 * b : 3 * b + 3]
            dgm = ripser.ripser(cdist(P, P, "cityblock"), distance_matrix=True, maxdim=0)["dgms"][0]
            np.testing.assert_allclose(deaths[b, k], np.sort(dgm[:-1, 1]), rtol=1e-6)


def test_summary_statistics() -> None:
    # a line of spacing 1: every batch of all 5 points has all deaths 1 under ℓ1
    line = np.arange(5, dtype=np.float64)[:, None] * np.array([[1.0, 0.0]])
    summary = death_time_summary(line, batch_size=5, n_batches=3)
    np.testing.assert_allclose(summary.per_batch, 1.0)
    assert summary.as_dict() == {
        "death_time.alpha": 1.0,
        "death_time.epsilon": 1.0,
        "death_time.beta": 1.0,
    }
    rng = np.random.default_rng(1)
    s = death_time_summary(rng.normal(size=(200, 4)), n_branches=2, batch_size=20, n_batches=30)
    assert s.per_batch.shape == (2, 30, 3) and np.all(s.alpha <= s.epsilon)
    assert np.all(s.epsilon <= s.beta) and "death_time.beta.b01" in s.as_dict()
    with pytest.raises(ValueError, match="batch_size"):
        death_time_summary(line, batch_size=6)


def test_training_moves_death_times_towards_eta() -> None:
    torch.manual_seed(0)
    X, _ = three_gaussians(50, seed=0)
    out = train_toy(
        ToyMLP(), X, epochs=6, milestones=(), lr=0.01, report_at=(0, 6), n_batches=50, seed=0
    )
    assert set(out) == {0, 6}
    before, after = out[0].epsilon[0], out[6].epsilon[0]
    assert abs(after - 2.0) < abs(before - 2.0)


@pytest.mark.slow
def test_figure2_statistics_at_the_papers_protocol() -> None:
    """60 epochs, batch 50, η = 2, 3,000 batches: (α̂, ε̂, β̂) near the paper's (0.24, 1.65, 4.01)
    at epoch 60 (seeds 0–3 gave 0.22, 1.62, 3.97–4.24 here), with ε̂ just below η."""
    torch.manual_seed(0)
    X, _ = three_gaussians(seed=0)
    summary = train_toy(ToyMLP(), X, report_at=(60,))[60]
    alpha, epsilon, beta = summary.alpha[0], summary.epsilon[0], summary.beta[0]
    assert abs(alpha - 0.24) < 0.05 and abs(epsilon - 1.65) < 0.1 and abs(beta - 4.01) < 0.5
    assert epsilon < 2.0


TINY_TOY = [
    "+experiment=corel_toy", "logger=none", "task.epochs=[0,2]", "task.hidden=[4,4]",
    "task.batch_size=10", "task.n_batches=5", "dataset.n_per_component=20", "task.num_threads=1",
    "objective=death_time.epsilon.epoch2",
]  # fmt: skip


def test_the_toy_task_computes_what_the_hand_launched_routine_did(tmp_path) -> None:
    """task=corel_toy: a run directory with the toy's files, and the numbers of ``train_toy`` from
    the same initialisation (the routine the toy was launched with before it was a task)."""
    import copy
    import json

    from tests.conftest import compose
    from topoexp.run import run

    metrics = run(compose(TINY_TOY, tmp_path / "run"))
    out = tmp_path / "run"
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    for name in ("provenance.json", "metrics.json", "config.yaml", "toy.png", "points.npz"):
        assert (out / name).is_file(), name
    torch.manual_seed(0)
    x, component = three_gaussians(20, seed=0)
    init = ToyMLP([4, 4])
    expected = {"input": death_time_summary(x, batch_size=10, n_batches=5, seed=0)}
    for epochs in (0, 2):
        trained = train_toy(copy.deepcopy(init), x, epochs=epochs, batch_size=10,
                            report_at=(epochs,), n_batches=5, seed=0)  # fmt: skip
        expected[f"epoch{epochs}"] = trained[epochs]
    for at, summary in expected.items():
        for stat in ("alpha", "epsilon", "beta"):
            assert metrics[f"death_time.{stat}.{at}"] == float(getattr(summary, stat)[0])
    toy = json.loads((out / "toy.json").read_text())
    assert set(toy) == {"hidden", "seed", "ours", "paper"} and toy["hidden"] == [4, 4]
    assert set(toy["ours"]) == {"input", "epoch 0", "epoch 2"}
    assert toy["ours"]["epoch 2"]["epsilon"] == metrics["death_time.epsilon.epoch2"]
    arrays = np.load(out / "points.npz")
    np.testing.assert_array_equal(arrays["component"], component)
    assert arrays["input"].shape == arrays["epoch_2"].shape == (60, 2)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["loss=[connectivity,signature]"], "loss.signature"),
        (["model={latent_dim: 2}"], "model"),
        (["evaluators=nldr"], "evaluators"),
        (["task.epochs=[2,2]"], "task.epochs"),
        (["objective=kl_0.1"], "objective"),
        (["loss.connectivity.eta=0"], "loss.connectivity.eta"),
    ],
)
def test_the_toy_task_refuses_what_it_cannot_run_naming_the_key(overrides, key, tmp_path) -> None:
    from tests.conftest import compose
    from topoexp.config.validate import ConfigError
    from topoexp.run import preflight

    with pytest.raises(ConfigError) as info:
        preflight(compose([*TINY_TOY, *overrides], tmp_path / "run"))
    assert info.value.key == key
    assert not (tmp_path / "run").exists()


def test_the_toy_task_needs_the_three_gaussians(tmp_path) -> None:
    from tests.conftest import compose
    from topoexp.config.validate import ConfigError
    from topoexp.run import preflight

    cfg = compose(["task=corel_toy", "objective=death_time.beta.input", "loss=connectivity"])
    with pytest.raises(ConfigError) as info:
        preflight(cfg)
    assert info.value.key == "dataset" and "corel_toy" in str(info.value)
