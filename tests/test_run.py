"""Whole runs on a tiny SPHERES: outputs, failure handling, resume, W&B offline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from tests.wandb_records import read_run
from topoexp.config.validate import ConfigError
from topoexp.run import run
from topoexp.sinks.base import NullSink
from topoexp.training.loop import NonFiniteLossError

NLDR_KEYS = {"kl_0.001", "kl_0.01", "kl_0.1", "kl_1", "kl_10", "mrre", "trust", "cont", "rmse"}


def test_topoae_run_writes_the_run_directory(tiny_cfg, tmp_path):
    cfg = tiny_cfg("evaluator.plot=true")
    metrics = run(cfg)
    out = tmp_path / "run"
    assert NLDR_KEYS | {"data_mse"} <= set(metrics)
    assert json.loads((out / "metrics.json").read_text()) == pytest.approx(metrics)
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    latents = np.load(out / "latents.npz")
    assert latents["latents"].shape == (40, 2)
    np.testing.assert_array_equal(latents["indices"], np.arange(40))
    assert (out / "latents.png").stat().st_size > 0
    assert (out / "checkpoints" / "best.pt").exists() and (out / "checkpoints" / "last.pt").exists()
    stored = yaml.safe_load((out / "config.yaml").read_text())
    assert stored["loss"] == {"signature": {**stored["loss"]["signature"], "weight": 0.433577}}
    # data_mse=last_epoch: the test reconstruction error logged at the last epoch
    history = json.loads((out / "history.json").read_text())
    assert metrics["data_mse"] == pytest.approx(history[-1]["test/reconstruction_error"])


def test_cpu_runs_are_bit_reproducible(tiny_cfg, tmp_path):
    a = run(tiny_cfg(output_dir=tmp_path / "a"))
    b = run(tiny_cfg(output_dir=tmp_path / "b"))
    assert a == b


def test_pca_baseline_on_train_part_with_data_mse(tiny_cfg, tmp_path):
    metrics = run(tiny_cfg("+experiment=spheres/pca"))
    assert NLDR_KEYS | {"data_mse"} <= set(metrics)
    assert 0 < metrics["data_mse"] < 1.5


def test_tsne_evaluates_a_train_subsample_of_test_size(tiny_cfg, tmp_path):
    run(tiny_cfg("+experiment=spheres/tsne", "model.perplexity=5", "model.max_iter=260"))
    latents = np.load(tmp_path / "run" / "latents.npz")
    assert latents["latents"].shape == (40, 2)
    assert str(latents["split"]) == "train"
    assert len(set(latents["indices"].tolist())) == 40 and latents["indices"].max() < 306


def test_invalid_config_fails_before_anything_is_written(tiny_cfg, tmp_path):

    with pytest.raises(ConfigError, match=r"loss\.signature\.weight"):
        run(tiny_cfg("loss.signature.weight=-1"))
    assert not (tmp_path / "run").exists()


def test_nan_loss_stops_keeps_last_good_checkpoint_and_marks_failed(
    tiny_cfg, tmp_path, monkeypatch
):
    from topoexp.losses.objective import Objective  # what the trainer trains

    original = Objective.loss
    calls = {"n": 0}

    def poisoned(self, x):
        total, parts = original(self, x)
        calls["n"] += 1
        if self.training and calls["n"] > 40:  # during the second epoch
            total = total * float("nan")
        return total, parts

    monkeypatch.setattr(Objective, "loss", poisoned)
    with pytest.raises(NonFiniteLossError, match="non-finite loss"):
        run(tiny_cfg())
    out = tmp_path / "run"
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "failed" and "NonFiniteLossError" in status["error"]
    last = torch.load(out / "checkpoints" / "last.pt", weights_only=False)
    assert last["loop"]["epoch"] == 1  # the last completed, finite epoch
    assert all(torch.isfinite(v).all() for v in last["model"].values() if v.is_floating_point())
    assert not (out / "metrics.json").exists()


def test_interrupted_run_resumes_to_identical_metrics(tiny_cfg, tmp_path, monkeypatch):
    reference = run(tiny_cfg("trainer.max_epochs=4", output_dir=tmp_path / "uninterrupted"))

    def interrupt(self, record):
        if record["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(NullSink, "log_epoch", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(tiny_cfg("trainer.max_epochs=4", output_dir=tmp_path / "resumed"))
    assert json.loads((tmp_path / "resumed" / "status.json").read_text())["status"] == "failed"
    monkeypatch.undo()
    resumed = run(
        tiny_cfg("trainer.max_epochs=4", "trainer.resume=true", output_dir=tmp_path / "resumed")
    )
    assert resumed == reference


def test_resume_without_checkpoint_names_the_path(tiny_cfg):
    with pytest.raises(FileNotFoundError, match=r"last\.pt"):
        run(tiny_cfg("trainer.resume=true"))


def test_wandb_offline_run_holds_config_and_metrics(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    metrics = run(tiny_cfg("logger=wandb", "logger.mode=auto", "evaluator.plot=true"))
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    record = read_run(runs[0])
    assert record["config"]["loss"]["signature"]["weight"] == pytest.approx(0.433577)
    assert record["summary"]["final/kl_0.1"] == pytest.approx(metrics["kl_0.1"])
    epochs = [row for row in record["history"] if "val/loss" in row]
    assert [row["epoch"] for row in epochs] == [0, 1, 2]
    assert any(key.startswith("figures/latents") for row in record["history"] for key in row)


def test_batch_larger_than_validation_split_is_a_clear_error(tiny_cfg):
    with pytest.raises(ConfigError, match=r"'trainer\.batch_size': 84 exceeds the 54 validation"):
        run(tiny_cfg("+experiment=spheres/ae", "trainer.batch_size=84"))


def test_diagram_distances_are_flat_metrics_with_plots(tiny_cfg, tmp_path):
    metrics = run(tiny_cfg("+experiment=spheres/pca", "evaluator.diagrams.enabled=true"))
    for key in ("bottleneck_h0", "sliced_wasserstein_h1_maxnorm", "wasserstein1_h0_p50"):
        assert np.isfinite(metrics[key])
    assert (tmp_path / "run" / "diagrams_raw.png").exists()
    assert (tmp_path / "run" / "diagrams_maxnorm.png").exists()


def test_wandb_sink_logs_images_against_the_epoch(tmp_path, monkeypatch):
    from topoexp.sinks.wandb_sink import WandbSink

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    sink = WandbSink(mode="offline", output_dir=tmp_path, run_config={"seed": 1})
    assert sink.takes_images and not NullSink().takes_images
    sink.log_images(3, {"samples": np.zeros((8, 8), dtype=np.float32)})
    sink.finish(failed=False)
    (wandb_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    rows = read_run(wandb_file)["history"]
    assert any(row.get("epoch") == 3 and "media/samples" in str(list(row)) for row in rows)
