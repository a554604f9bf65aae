"""The one-class task: every COREL experiment composes and preflights; tiny end-to-end runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CONF_DIR, EXPERIMENT_BASES, compose
from topoexp.config.validate import ConfigError
from topoexp.run import preflight, run

COREL_EXPERIMENTS = sorted(
    str(p.relative_to(CONF_DIR / "experiment").with_suffix(""))
    for p in (CONF_DIR / "experiment" / "corel").rglob("*.yaml")
)

#: A COREL backbone trained for one epoch on PATTERNS (3 classes × 40 images, 1×32×32).
TINY_COREL = [
    "task=one_class",
    "model=corel",
    "loss=connectivity",
    "evaluator=one_class",
    "dataset=patterns",
    "logger=none",
    "model.n_branches=4",
    "model.branch_dim=3",
    "trainer.batch_size=10",
    "trainer.max_epochs=1",
    "trainer.patience=1",
    "trainer.reload_best=false",
    "trainer.progress=false",
    "trainer.log_every=1",
    "evaluator.m_values=[5,10,all]",
    "evaluator.runs=2",
    "task.death_time_batches=20",
    "task.death_time_batch_size=10",
    "objective=auc_m5",  # a metric of this run (the default, kl_0.1, is TopoAE's)
]


def test_every_corel_experiment_is_listed():
    assert len(COREL_EXPERIMENTS) == 34
    assert {"corel/grid/cifar10", "corel/ablation/b1x160", "corel/offline/mnist"} <= set(
        COREL_EXPERIMENTS
    )


@pytest.mark.parametrize("name", [e for e in COREL_EXPERIMENTS if e not in EXPERIMENT_BASES])
def test_corel_experiment_composes_and_preflights(name, tmp_path):
    cfg = compose([f"+experiment={name}"], tmp_path)
    task = preflight(cfg)
    assert task.job_type == "one_class"
    assert cfg.paper == "corel"
    if task.features == "latents":
        assert cfg.trainer.patience >= cfg.trainer.max_epochs and not cfg.trainer.reload_best
        assert (cfg.trainer.batch_size, cfg.trainer.lr, cfg.trainer.weight_decay) == (100, 1e-3, 0)


def test_grid_and_ablation_evaluate_the_paper_settings(tmp_path):
    cfg = compose(["+experiment=corel/ablation/b32x5"], tmp_path)
    assert (cfg.dataset.name, cfg.task.eval_dataset.name) == ("cifar100", "cifar10")
    assert (cfg.model.n_branches, cfg.model.branch_dim, cfg.loss.connectivity.weight) == (
        32,
        5,
        20.0,
    )
    assert 5000 in cfg.evaluator.m_values and 1.75 in cfg.evaluator.radius_grid
    cfg = compose(["+experiment=corel/grid/tinyimagenet", "task/eval_dataset=imagenet"], tmp_path)
    assert cfg.task.eval_dataset.name == "imagenet" and cfg.task.eval_dataset.transform == "corel"
    assert list(cfg.evaluator.m_values) == [80, 120, 500]


@pytest.mark.parametrize(
    "name, folder",
    [
        ("corel/grid/cifar10", "cifar-10-batches-py"),
        ("corel/grid/tinyimagenet", "tiny-imagenet-200"),
    ],
)
def test_grid_run_without_data_fails_naming_the_folder_and_is_recorded(name, folder, tmp_path):
    out = tmp_path / "run"
    cfg = compose([f"+experiment={name}", "logger=none", f"paths.data_dir={tmp_path}"], out)
    with pytest.raises(FileNotFoundError, match=folder):
        run(cfg)
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "failed" and folder in json.dumps(status)


def test_transfer_without_eval_data_fails_naming_the_folder(tmp_path):
    out = tmp_path / "run"
    cfg = compose([*TINY_COREL, "task/eval_dataset=cifar20", f"paths.data_dir={tmp_path}"], out)
    with pytest.raises(FileNotFoundError, match="cifar-100-python"):
        run(cfg)


def test_one_class_trains_then_a_loaded_backbone_gives_the_same_aucs(tmp_path):
    first = tmp_path / "train"
    metrics = run(compose(TINY_COREL, first))
    keys = {f"auc_m{m}" for m in (5, 10, "all")}
    keys |= {f"auc_m{m}_class{c}" for m in (5, 10, "all") for c in range(3)}
    assert keys <= set(metrics)
    assert all(0.0 <= metrics[k] <= 1.0 for k in keys)
    assert metrics["epochs"] == 1 and "death_time.epsilon.b03" in metrics
    arrays = np.load(first / "one_class.npz")
    assert arrays["test_latents"].shape == (60, 12)
    assert arrays["support_latents_m5"].shape == (2, 3, 5, 12)
    assert arrays["support_latents_mall"].shape == (1, 3, 40, 12)
    indices = arrays["support_indices_m10"]
    assert indices.shape == (2, 3, 10)
    # every drawn index is a training image of its class (PATTERNS is sorted by class)
    assert np.all(indices // 40 == np.arange(3)[None, :, None])
    steps = [json.loads(line) for line in (first / "steps.jsonl").read_text().splitlines()]
    assert len(steps) == 12  # 120 training images (fit_on: fit), batches of 10, every step
    assert {"train/loss.reconstruction", "train/loss.connectivity"} <= set(steps[0])
    assert {"train/death_time.min.b00", "train/death_time.max.b03"} <= set(steps[0])
    assert (first / "checkpoints" / "last.pt").exists() and (first / "auc_vs_m.png").exists()

    second = tmp_path / "load"
    again = run(compose([*TINY_COREL, f"task.backbone={first}"], second))
    assert {k: again[k] for k in keys} == {k: metrics[k] for k in keys}
    assert not (second / "checkpoints").exists()
    loaded = np.load(second / "one_class.npz")
    np.testing.assert_array_equal(loaded["support_latents_m10"], arrays["support_latents_m10"])


def test_backbone_that_does_not_fit_the_model_is_a_clear_error(tmp_path):
    run(compose(TINY_COREL, tmp_path / "train"))
    overrides = [*TINY_COREL, "model.n_branches=2", f"task.backbone={tmp_path / 'train'}"]
    with pytest.raises(RuntimeError, match="n_branches"):
        run(compose(overrides, tmp_path / "load"))


def test_missing_backbone_names_the_path(tmp_path):
    cfg = compose([*TINY_COREL, f"task.backbone={tmp_path / 'nowhere'}"], tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        run(cfg)


@pytest.mark.parametrize("scorer", ["ocsvm", "kde"])
def test_pixel_baselines_score_on_the_same_draws(scorer, tmp_path):
    overrides = [*TINY_COREL, "task.features=pixels", f"evaluator.scorer={scorer}"]
    metrics = run(compose(overrides, tmp_path / scorer))
    # well-separated templates: the pixel baselines recognise them
    assert metrics["auc_m10"] > 0.9
    arrays = np.load(tmp_path / scorer / "one_class.npz")
    assert arrays["test_latents"].shape == (60, 1024)
    ref = np.load(tmp_path / scorer / "one_class.npz")["support_indices_m5"]
    assert ref.shape == (2, 3, 5)


BASE = ["task=one_class", "loss=none", "dataset=patterns", "logger=none", "objective=auc_m5"]


@pytest.mark.parametrize(
    "overrides, key",
    [
        ([*TINY_COREL, "task.features=pixels"], "evaluator.scorer"),
        ([*BASE, "model=mlp", "evaluator=one_class"], "dataset"),  # an MLP needs vectors
        ([*TINY_COREL, "trainer.batch_size=1"], "trainer.batch_size"),
        ([*TINY_COREL, "evaluator.m_values=[0]"], "evaluator.m_values"),
        (
            [*TINY_COREL, "evaluator.scorer=kde", "evaluator.radius_grid=[1.0]"],
            "evaluator.radius_grid",
        ),
        ([*BASE, "model=corel", "evaluator=nldr"], "evaluator"),
    ],
)
def test_invalid_combinations_fail_in_preflight_naming_the_key(overrides, key, tmp_path):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        preflight(compose(overrides, tmp_path))


def test_radius_grid_adds_metrics_and_the_default_radius_matches(tmp_path):
    metrics = run(compose([*TINY_COREL, "evaluator.radius_grid=[2.0,0.0]"], tmp_path / "r"))
    assert metrics["auc_r2_m5"] == metrics["auc_m5"]
    assert metrics["auc_r0_m10"] == pytest.approx(0.5, abs=0.1)


def test_the_input_shape_comes_from_the_data(tmp_path):
    """Three channels of PATTERNS build a 3-channel COREL; 28 × 28 images do not fit its
    three stride-2 convolutions, and the error names the transform that resizes them."""
    metrics = run(compose([*TINY_COREL, "dataset.channels=3"], tmp_path / "rgb"))
    assert 0.0 <= metrics["auc_m5"] <= 1.0
    with pytest.raises(
        ConfigError, match=r"model\.input_shape.*multiple of 2\^len\(filters\).*corel32"
    ):
        run(compose([*TINY_COREL, "dataset.image_size=28"], tmp_path / "run"))


def test_the_signature_term_trains_a_corel_backbone(tmp_path):
    """Once refused (COREL carried its own objective), TopoAE's term on COREL's latents now
    composes: the steps log the signature term, and the connectivity term only with it."""
    for loss, connectivity in (("signature", False), ("[signature,connectivity]", True)):
        out = tmp_path / ("both" if connectivity else "signature")
        metrics = run(compose([*TINY_COREL, f"loss={loss}"], out))
        assert 0.0 <= metrics["auc_m5"] <= 1.0
        steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
        assert {"train/loss.reconstruction", "train/loss.topo_error"} <= set(steps[0])
        assert ("train/loss.connectivity" in steps[0]) == connectivity
        for step in steps:
            parts = step["train/loss.reconstruction"] + 0.433577 * step["train/loss.topo_error"]
            if connectivity:
                parts += 20.0 * step["train/loss.connectivity"]
            assert step["train/loss.total"] == pytest.approx(parts, rel=1e-5)


@pytest.fixture(scope="module")
def datasets_root(shared_dir: Path) -> Path:
    root = shared_dir / "datasets"
    if not (root / "MNIST" / "raw").is_dir():
        pytest.skip(f"MNIST raw files not found under {root}")
    return root


@pytest.mark.data
def test_mnist_eval_dataset_is_resized_for_a_loaded_backbone(tmp_path, datasets_root: Path):
    import torch

    from topoexp.models.corel import CorelAutoencoder

    torch.save(CorelAutoencoder(input_shape=(1, 32, 32)).state_dict(), tmp_path / "random.pt")
    overrides = [
        "+experiment=corel/offline/fmnist_to_mnist",
        f"task.backbone={tmp_path / 'random.pt'}",
        f"paths.data_dir={datasets_root}",
        "logger=none",
        "evaluator.m_values=[120]",
        "evaluator.runs=1",
        "evaluator.radius_grid=[]",
        "task.death_time_batches=10",
        "objective=auc_m120",
    ]
    metrics = run(compose(overrides, tmp_path / "run"))
    assert 0.0 <= metrics["auc_m120"] <= 1.0
    assert np.load(tmp_path / "run" / "one_class.npz")["test_latents"].shape == (10000, 160)
