"""Targeted gradient-sign attacks, TopModel, the pixel MLP and the attack task.

The attack loop is checked on tiny models whose gradient is known by hand; the task end to end on a
fake MNIST (class-dependent stripes) through the harness, and through ``python -m topoexp`` on the
real MNIST files (``data``, ``slow``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import REPO_ROOT, compose
from topoexp.evaluation.attacks import (
    AttackBudget,
    pair_grid_targets,
    random_targets,
    targeted_attack,
)
from topoexp.models.classifier import (
    MANIFEST,
    PixelMLP,
    PretrainedClassifier,
    file_sha256,
    load_classifier,
)
from topoexp.models.topmodel import TopModel, fit_head
from topoexp.topology.directional import DirectionalFeatures


class Linear(nn.Module):
    """logits = x @ W (flattened pixels), a model whose input gradient is known."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x):
        return x.reshape(len(x), -1) @ self.weight


def test_one_step_is_the_sign_of_the_cross_entropy_gradient_then_clipped():
    w = torch.tensor([[1.0, -1.0], [-2.0, 2.0], [0.0, 0.0]])  # 3 pixels, 2 classes
    model = Linear(w)
    x0 = torch.tensor([[0.5, 0.995, 0.3]])
    budget = AttackBudget(eps=0.3, step_size=0.01, steps=1, early_stop=False)
    result = targeted_attack(model, x0, torch.tensor([1]), budget)
    # d CE / d x = W (softmax − onehot(1)): class 1 gains with pixel 0 down, pixel 1 up
    x0g = x0.clone().requires_grad_(True)
    nn.functional.cross_entropy(model(x0g), torch.tensor([1])).backward()
    expected = (x0 - 0.01 * x0g.grad.sign()).clamp(0, 1)
    torch.testing.assert_close(result.adversarial, expected)
    assert result.adversarial[0, 1] == 1.0  # clipped to the valid range
    assert result.adversarial[0, 2] == x0[0, 2]  # zero gradient: unchanged


def test_the_attack_reaches_its_target_within_the_budget():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 4))
    x0 = torch.rand(64, 1, 4, 4)
    labels = model(x0).argmax(1)
    targets = random_targets(labels, 4, seed=1)
    budget = AttackBudget(eps=1.0, step_size=0.05, steps=200)
    result = targeted_attack(model, x0, targets, budget, batch_size=16)
    assert result.success.all()
    with torch.no_grad():
        assert (model(result.adversarial).argmax(1) == targets).all()
    assert (result.adversarial >= 0).all() and (result.adversarial <= 1).all()
    assert (result.steps_to_success >= 1).all()
    assert result.history[-1] == 1.0 and result.history == sorted(result.history)


def test_the_bound_holds_and_failures_are_reported():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x0 = torch.rand(32, 1, 4, 4) * 0.5 + 0.25
    labels = model(x0).argmax(1)
    targets = random_targets(labels, 3, seed=0)
    budget = AttackBudget(eps=0.02, step_size=0.01, steps=10)
    result = targeted_attack(model, x0, targets, budget)
    assert (result.adversarial - x0).abs().max() <= 0.02 + 1e-7
    assert not result.success.all()  # a tight bound leaves some images unchanged in class
    failed = ~result.success
    assert (result.steps_to_success[failed] == -1).all()
    assert (result.final_pred[failed] != targets[failed]).all()
    assert result.success_rate == pytest.approx(float(result.success.float().mean()))


def test_early_stop_keeps_the_first_successful_image():
    model = Linear(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    x0 = torch.tensor([[0.52, 0.50]])  # class 0 by 0.02; each step moves both pixels by 0.01
    budget = AttackBudget(eps=0.5, step_size=0.01, steps=50)
    result = targeted_attack(model, x0, torch.tensor([1]), budget)
    assert result.steps_to_success.tolist() == [2]  # 0.51 vs 0.51 ties to class 0; step 2 wins
    torch.testing.assert_close(result.adversarial, torch.tensor([[0.50, 0.52]]))


def test_random_targets_differ_from_the_labels_and_are_seeded():
    labels = torch.arange(10).repeat(100)
    t = random_targets(labels, 10, seed=3)
    assert (t != labels).all() and set(t.tolist()) == set(range(10))
    assert torch.equal(t, random_targets(labels, 10, seed=3))
    assert not torch.equal(t, random_targets(labels, 10, seed=4))
    counts = torch.bincount((t - labels) % 10, minlength=10)
    assert counts[0] == 0 and counts[1:].min() > 70  # uniform over the 9 other classes


def test_pair_grid_targets_are_the_90_ordered_pairs():
    src, dst = pair_grid_targets(10)
    assert len(src) == 90 and (src != dst).all()
    assert len(set(zip(src.tolist(), dst.tolist(), strict=True))) == 90
    assert src[:9].tolist() == [0] * 9 and dst[:9].tolist() == list(range(1, 10))


def test_images_outside_the_valid_range_are_refused():
    model = Linear(torch.eye(2))
    with pytest.raises(ValueError, match=r"\[0.0, 1.0\]"):
        targeted_attack(model, torch.tensor([[1.5, 0.0]]), torch.tensor([1]), AttackBudget())


def test_a_topmodel_is_attacked_through_its_persistence_features():
    torch.manual_seed(0)
    feats = DirectionalFeatures(size=(8, 8), max_power=2)
    model = TopModel(feats, hidden=[16], n_classes=3).double()
    x = torch.rand(6, 1, 8, 8, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    history = fit_head(model, feats(x), labels, epochs=3, lr=1e-2, batch_size=3)
    assert len(history) == 3
    torch.testing.assert_close(model.mean, feats(x).mean(0))  # the scaler is fitted
    xg = x.clone().requires_grad_(True)
    nn.functional.cross_entropy(model(xg), labels).backward()
    assert xg.grad.abs().sum() > 0  # the gradient reaches the pixels through the diagrams
    result = targeted_attack(model, x, (labels + 1) % 3, AttackBudget(steps=3, eps=0.05))
    assert (result.adversarial - x).abs().max() <= 0.05 + 1e-12
    assert not torch.equal(result.adversarial, x)


def test_the_pixel_mlp_loads_from_a_manifest_and_refuses_other_bytes(tmp_path):
    mlp = PixelMLP(hidden=(8,))
    torch.save(mlp.state_dict(), tmp_path / "m.pt")
    entry = {"file": "m.pt", "sha256": file_sha256(tmp_path / "m.pt"), "arch": "mlp",
             "architecture": mlp.config}  # fmt: skip
    (tmp_path / MANIFEST).write_text(json.dumps({"mnist_mlp": entry}))
    loaded = PretrainedClassifier("mnist_mlp", str(tmp_path))
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(loaded(x), mlp(x))
    assert loaded.name == "mnist_mlp" and loaded.n_classes == 10
    (tmp_path / "m.pt").write_bytes(b"other")
    with pytest.raises(ValueError, match="sha256"):
        load_classifier("mnist_mlp", tmp_path)


def test_the_committed_pixel_mlp_matches_its_manifest():
    model = load_classifier("mnist_mlp")
    assert isinstance(model, PixelMLP) and model.config["hidden"] == [256, 256]


# -- the task ------------------------------------------------------------------------------------


def _factory(root: Path):
    """Factory: an attack experiment on a fake MNIST (stripes by class) under ``root``."""
    from tests.test_homreg_task import write_fake_mnist

    if not (root / "data").is_dir():
        write_fake_mnist(root / "data")

    def make(experiment: str, *overrides: str, out: str = "run"):
        return compose(
            [
                f"+experiment=toplayer/attacks/{experiment}",
                "logger=none",
                f"paths.data_dir={root / 'data'}",
                "dataset.verify_checksums=false",
                "task.n_attack=12",
                "task.train_subset=100",
                "task.test_subset=60",
                "task.steps=4",
                "task.n_examples=4",
                "task.fit_epochs=40",
                "task.fit_lr=0.01",
                f"task.feature_cache={root / 'cache'}",
                "task.num_threads=1",
                *overrides,
            ],
            root / out,
        )

    return make


@pytest.fixture
def fake(tmp_path: Path):
    return _factory(tmp_path)


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory) -> tuple[Path, dict[str, dict[str, float]]]:
    """TopModel, the committed MLP and CNN attacked on the fake MNIST (runs/<model>)."""
    from topoexp.run import run

    root = tmp_path_factory.mktemp("attacks")
    make = _factory(root)
    metrics = {m: run(make(m, out=f"runs/{m}")) for m in ("topmodel", "mlp", "cnn")}
    return root, metrics


def test_the_topmodel_task_fits_caches_and_attacks(three_runs):
    from topoexp.run import run

    root, all_metrics = three_runs
    metrics = all_metrics["topmodel"]
    out = root / "runs" / "topmodel"
    for name in ("attacks.npz", "grid.npz", "grid.png", "examples.png", "history.json",
                 "checkpoints/topmodel.pt", "provenance.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert 0 <= metrics["attack_success_rate"] <= 1 and metrics["attack_n"] == 12
    assert metrics["train_accuracy"] > 0.9  # the head fits its 100 training images
    assert 0.1 < metrics["test_accuracy"] <= 1
    with np.load(out / "attacks.npz") as z:
        clean = (z["clean_pred"] == z["labels"]).mean()
        assert clean == pytest.approx(metrics["attacked_clean_accuracy"])
        assert (z["targets"] != z["labels"]).all()
        delta = np.abs(z["adversarial"] - z["originals"]).max()
        assert delta <= 0.3 + 1e-6
        assert z["success"].mean() == pytest.approx(metrics["attack_success_rate"])
    with np.load(out / "grid.npz") as z:
        assert z["images"].shape == (10, 10, 1, 28, 28) and not z["success"].diagonal().any()
    cached = sorted((root / "cache").glob("features_*.npz"))
    assert len(cached) == 2  # training and test features
    again = run(_factory(root)("topmodel", "task.grid=false", "task.n_examples=0",
                               "task.n_attack=1", out="again"))  # fmt: skip
    # the cache is read: the same features give the same model
    assert again["test_accuracy"] == metrics["test_accuracy"]
    assert again["train_features_s"] < metrics["train_features_s"]


def test_the_report_puts_the_runs_beside_the_paper(three_runs, tmp_path):
    from topoexp.report.attacks import build

    root, metrics = three_runs
    ref = tmp_path / "ref.csv"
    ref.write_text(
        "target_model,attack_success_rate,test_accuracy,note\n"
        'topmodel,0.252,0.80-0.85,"x"\nmlp,1.00,,same\ncnn,1.00,,same\n'
    )
    result = build(root / "runs", tmp_path / "out", ref, eps=0.3, steps=4)
    for name in ("table.md", "table.csv", "budgets.md", "grid.png", "success.png", "claims.md",
                 "provenance.json"):  # fmt: skip
        assert (tmp_path / "out" / name).is_file(), name
    table = result["table"].set_index("model")
    assert table.loc["TopModel", "paper success"] == "25.2 %"
    assert (
        table.loc["MLP", "attack success"] == f"{100 * metrics['mlp']['attack_success_rate']:.1f} %"
    )
    rob = result["claims"]["robustness"]
    assert rob["cnn_success_rate"] == metrics["cnn"]["attack_success_rate"]
    expected = metrics["topmodel"]["attack_success_rate"] < min(
        metrics["mlp"]["attack_success_rate"], metrics["cnn"]["attack_success_rate"]
    )
    assert rob["topmodel_below_both"] == expected
    assert (
        result["claims"]["accuracy"]["topmodel_test_accuracy"]
        == metrics["topmodel"]["test_accuracy"]
    )


def test_the_task_refuses_pixels_outside_zero_one(fake):
    from topoexp.config.validate import ConfigError
    from topoexp.run import preflight

    with pytest.raises(ConfigError, match=r"dataset\.transform"):
        preflight(fake("mlp", "dataset.transform=topoae"))
    with pytest.raises(ConfigError, match=r"task\.clip_min"):
        preflight(fake("mlp", "task.clip_min=2.0"))


@pytest.mark.data
@pytest.mark.slow
def test_a_shrunk_run_through_the_command_line(datasets_root, tmp_path):
    """``python -m topoexp`` on the real MNIST files: the committed MLP, 10 images, 20 steps."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TOPOEXP_DATA_DIR": str(datasets_root)}
    cmd = [sys.executable, "-m", "topoexp", "+experiment=toplayer/attacks/mlp", "logger=none",
           "task.n_attack=10", "task.steps=20", "task.test_subset=500", "task.grid=false",
           f"hydra.run.dir={tmp_path}"]  # fmt: skip
    subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=300)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.95  # the committed MLP: 97.96 % on the whole test split
    assert metrics["attack_success_rate"] == 1.0  # ε = 0.3 breaks the pixel MLP every time
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "completed"


@pytest.mark.data
def test_the_committed_pixel_mlp_scores_its_recorded_accuracy(datasets_root):
    from topoexp.evaluation.image_tensors import image_tensors
    from topoexp.models.classifier import read_manifest

    x, y = image_tensors("mnist", datasets_root, "test")
    with torch.no_grad():
        pred = load_classifier("mnist_mlp")(x).argmax(1)
    accuracy = float((pred == y).double().mean())
    assert accuracy == pytest.approx(read_manifest()["mnist_mlp"]["test_accuracy"], abs=1e-9)
