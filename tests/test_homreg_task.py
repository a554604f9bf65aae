"""The generative task end to end on a fake MNIST with a tiny stand-in metric classifier."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import compose
from topoexp.config.build import build
from topoexp.config.validate import ConfigError
from topoexp.data.tensors import split_tensors
from topoexp.models.classifier import MANIFEST, SmallCNN, file_sha256
from topoexp.plotting.grids import image_grid
from topoexp.run import preflight, run
from topoexp.tasks.composition import build_objective

N_TRAIN, N_TEST = 160, 96


def _idx(path: Path, array: np.ndarray) -> None:
    """Write an idx file (the MNIST format): magic (type 0x08, ndim), sizes, uint8 data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_fake_mnist(root: Path, seed: int = 0) -> None:
    """``root/MNIST/raw`` with class-dependent noisy images (stripe at row 2·label)."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, y in enumerate(labels):
            images[i, 2 * y + 4 : 2 * y + 7, 4:24] = 255
        _idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _idx(raw / f"{prefix}-labels-idx1-ubyte", labels)


def write_stand_in_classifier(folder: Path) -> Path:
    """A tiny untrained SmallCNN with its manifest entry (sha256 verified on load)."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    arch = {"n_classes": 10, "channels": [2, 4], "hidden": 8}
    torch.save(SmallCNN(**arch).state_dict(), folder / "mnist_cnn.pt")
    entry = {"file": "mnist_cnn.pt", "sha256": file_sha256(folder / "mnist_cnn.pt")}
    (folder / MANIFEST).write_text(json.dumps({"mnist": {**entry, "architecture": arch}}))
    return folder


@pytest.fixture
def fake(tmp_path: Path):
    """Factory: a composed homreg experiment on the fake MNIST, one short epoch."""
    write_fake_mnist(tmp_path / "data")
    assets = write_stand_in_classifier(tmp_path / "assets")

    def make(experiment: str, *overrides: str, out: str = "run"):
        return compose(
            [
                f"+experiment=homreg/{experiment}",
                "logger=none",
                f"paths.data_dir={tmp_path / 'data'}",
                "dataset.verify_checksums=false",
                f"task.classifier_dir={assets}",
                "task.n_samples=120",
                "task.monitor_size=32",
                "task.scatter_size=40",
                "trainer.batch_size=32",
                "trainer.max_epochs=1",
                "trainer.progress=false",
                *overrides,
            ],
            tmp_path / out,
        )

    return make


METRICS = {
    "fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage",
    "inception_score", "class_entropy", "classes_covered", "n_samples", "n_real",
}  # fmt: skip
LATENT_METRICS = {"reconstruction_bce", "fraction_in_ball", "total_persistence0"}


@pytest.mark.parametrize("experiment", ["mnist/ae_reg_2", "mnist/vae_5"])
def test_a_run_writes_samples_latents_and_flat_metrics(fake, tmp_path, experiment):
    metrics = run(fake(experiment))
    out = tmp_path / "run"
    assert METRICS | LATENT_METRICS | {"epochs", "epoch_s", "eval_s"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())
    assert metrics["n_samples"] == 120 and metrics["n_real"] == N_TEST and metrics["epochs"] == 1
    assert json.loads((out / "metrics.json").read_text()) == pytest.approx(metrics)
    samples = np.load(out / "samples.npz")["samples"]
    assert samples.shape == (120, 1, 28, 28) and samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1
    latents = np.load(out / "latents.npz")
    latent_dim = int(experiment[-1])
    assert latents["latents"].shape == (40, latent_dim)
    assert (out / "samples.png").exists() and (out / "losses.png").exists()
    assert (out / "latents.png").exists() == (latent_dim == 2)
    assert json.loads((out / "status.json").read_text())["status"] == "completed"


def test_the_regularised_ae_is_decoded_from_the_ball_and_the_others_from_a_gaussian(fake):
    priors = {}
    for name in ("ae_2", "ae_reg_2", "vae_2", "ae_ball_2", "ae_ballprior_2"):
        cfg = fake(f"mnist/{name}")
        priors[name] = build_objective(cfg, build(cfg, "model")).model.prior
    assert priors == {"ae_2": "gaussian", "ae_reg_2": "ball", "vae_2": "gaussian",
                      "ae_ball_2": "ball", "ae_ballprior_2": "ball"}  # fmt: skip
    cfg = fake("mnist/ae_reg_10")
    model = build_objective(cfg, build(cfg, "model")).model
    ball = model.sample_prior(2000, torch.Generator())
    assert ball.norm(dim=1).max() <= 1 + 1e-6


def test_the_floor_scores_real_training_images(fake, tmp_path):
    metrics = run(fake("mnist/floor"))
    assert set(metrics) >= METRICS and not LATENT_METRICS & set(metrics)
    samples = np.load(tmp_path / "run" / "samples.npz")["samples"]
    assert samples.shape == (120, 1, 28, 28)
    fit, _ = split_tensors(build(fake("mnist/floor", out="b"), "dataset").fit)
    # every floor sample is one of the training images
    flat = fit.reshape(len(fit), -1).numpy()
    for s in samples[:10].reshape(10, -1):
        assert np.abs(flat - s).max(axis=1).min() == 0


def test_the_protocol_is_checked_before_anything_runs(fake):
    with pytest.raises(ConfigError, match=r"dataset\.transform"):
        preflight(fake("mnist/ae_2", "dataset.transform=topoae"))
    with pytest.raises(ConfigError, match="trainer"):
        preflight(fake("mnist/ae_2", "trainer.reload_best=true"))
    with pytest.raises(ConfigError, match="trainer"):
        preflight(fake("mnist/ae_2", "trainer.patience=3", "trainer.max_epochs=5"))
    with pytest.raises(ConfigError, match=r"'model'.*needs 'prior'"):
        preflight(fake("mnist/ae_2", "model=mlp"))  # no prior to sample from
    with pytest.raises(ConfigError, match="classifier_dir"):
        preflight(fake("mnist/ae_2", "task.classifier_dir=/nonexistent"))


@pytest.mark.parametrize("penalty", ["norm", "barcode"])
def test_an_optimise_penalty_is_no_regulariser_of_a_model(fake, penalty):
    """The optimise task's penalties act on a problem's parameters: as a model's loss they are
    refused, naming the loss entry and pointing to the latent regulariser."""
    with pytest.raises(ConfigError, match=rf"'loss\.{penalty}'.*not a regulariser.*latent_barcode"):
        preflight(fake("mnist/ae_2", f"loss={penalty}"))


def test_the_vae_kl_divisor_follows_the_batch_size_switch(fake):
    assert build(fake("mnist/vae_2", "trainer.batch_size=512"), "model").kl_batch_size == 512


def test_split_tensors_fast_path_equals_to_tensor(fake):
    data = build(fake("mnist/ae_2"), "dataset", split_seed=0)
    for split in (data.fit, data.train, data.test):
        x, y = split_tensors(split)
        loop = [split[i] for i in range(len(split))]
        torch.testing.assert_close(x, torch.stack([a for a, _ in loop]), rtol=0, atol=0)
        assert y.tolist() == [int(b) for _, b in loop]


def test_image_grid_places_tiles_row_major():
    images = np.stack([np.full((1, 2, 3), v, dtype=np.float32) for v in (0.1, 0.2, 0.3)])
    grid = image_grid(images, ncol=2, pad=1)
    assert grid.shape == (2 * 2 + 1, 2 * 3 + 1)
    assert grid[0, 0] == pytest.approx(0.1) and grid[0, 4] == pytest.approx(0.2)
    assert grid[3, 0] == pytest.approx(0.3) and grid[3, 4] == 1.0  # empty cell
    assert (grid[2] == 1.0).all()  # padding row


def test_the_report_writes_table_grids_scatters_and_claims(fake, tmp_path):
    from topoexp.report.homreg import build as build_report

    for i, (name, seed) in enumerate([("ae_2", 0), ("ae_2", 1), ("ae_reg_2", 0), ("floor", 0)]):
        run(fake(f"mnist/{name}", f"seed={seed}", "task.n_samples=64", out=f"runs/{i}"))
    table = build_report(tmp_path / "runs", tmp_path / "results")
    out = tmp_path / "results"
    ae = table[(table.method == "ae") & (table.latent == 2)].iloc[0]
    assert ae.n_seeds == 2
    for metric in ("fid", "reconstruction_bce"):
        values = [json.loads((tmp_path / f"runs/{i}/metrics.json").read_text())[metric]
                  for i in (0, 1)]  # fmt: skip
        assert ae[f"{metric}_mean"] == pytest.approx(np.mean(values))
        assert ae[f"{metric}_std"] == pytest.approx(np.std(values, ddof=1))
    assert ae.reconstruction_bce_std > 0  # two seeds, two models
    md = (out / "table.md").read_text()
    assert "| AE | 2 | 2 |" in md and "| floor | – | 1 |" in md
    for name in ("grids_mnist", "metrics_mnist", "latents_mnist"):
        assert (out / f"{name}.png").stat().st_size > 0
    claims = (out / "claims.md").read_text()
    assert "| MNIST | 2 |" in claims
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["n_runs"] == 4


@pytest.mark.parametrize("experiment", ["mnist/ae_reg_5", "mnist/ae_ball_5"])
def test_the_regulariser_settings_reach_the_homological_loss(fake, experiment):
    cfg = fake(
        experiment,
        "loss.homological.weight=0.01",
        "loss.homological.ball_coef=0.2",
        "loss.homological.ball_norm=norm",
        "loss.homological.cutoff=0.7",
        "model.prior=gaussian",
    )
    objective = build_objective(cfg, build(cfg, "model"))
    assert list(objective.regularisers) == ["homological"]
    h = objective.regularisers["homological"].homological
    assert (h.coef, h.ball_coef, h.ball.norm, h.cutoff) == (0.01, 0.2, "norm", 0.7)
    assert h.death_coef == (0.01 if experiment.endswith("ae_reg_5") else 0.0)
    assert objective.model.prior == "gaussian"  # an explicit prior is kept
    plain = fake("mnist/ae_2")
    assert not build_objective(plain, build(plain, "model")).regularisers


def test_the_signature_term_trains_a_generative_ae(fake, tmp_path):
    """Once refused (the generative models held their regulariser), TopoAE's term on the
    generative AE's latents now runs; its parts are logged and sum to the loss."""
    metrics = run(fake("mnist/ae_2", "loss=signature"))
    assert all(np.isfinite(v) for v in metrics.values()) and metrics["epochs"] == 1
    (epoch,) = json.loads((tmp_path / "run" / "history.json").read_text())
    total = epoch["val/loss.reconstruction"] + 0.433577 * epoch["val/loss.topo_error"]
    assert epoch["val/loss.total"] == pytest.approx(total, rel=1e-6)
    assert epoch["val/metrics.matched_pairs_0D"] > 0
