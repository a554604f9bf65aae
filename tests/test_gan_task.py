"""The GAN task end to end on a fake MNIST: every stage, resume, NaN stop, config errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO_ROOT, compose
from tests.test_homreg_task import write_fake_mnist
from topoexp.config.validate import ConfigError
from topoexp.run import preflight, run
from topoexp.training.gan_loop import GANTrainer, load_checkpoint

SHRINK = [
    "logger=none",
    "dataset.verify_checksums=false",
    "model.generator_hidden=[16,32]",
    "model.discriminator_hidden=[16]",
    "trainer.iterations=6",
    "trainer.checkpoint_every=3",
    "trainer.log_every=2",
    "trainer.progress=false",
    "trainer.batch_size=16",
    "task.computations=2",
    "task.n_l2=20",
    "task.n_wass=6",
    "task.grid_size=8",
    "task.interpolations=2",
    "task.interpolation_steps=3",
]
FIGURE10 = {"mmd_l2", "cov_l2", "mmd_wass", "cov_wass", "inception", "one_component"}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gan_data")
    write_fake_mnist(root)
    return root


@pytest.fixture(scope="module")
def baseline(data_root, tmp_path_factory) -> Path:
    """The baseline stage through ``python -m topoexp`` (a subprocess, as a user runs it)."""
    out = tmp_path_factory.mktemp("gan_runs") / "baseline"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TOPOEXP_DATA_DIR": str(data_root)}
    args = ["+experiment=toplayer/generator/baseline", *SHRINK, f"hydra.run.dir={out}"]
    done = subprocess.run(
        [sys.executable, "-m", "topoexp", *args], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _cfg(experiment: str, out: Path, data_root: Path, *overrides: str):
    return compose(
        [f"+experiment=toplayer/generator/{experiment}", *SHRINK,
         f"paths.data_dir={data_root}", *overrides],
        out,
    )  # fmt: skip


def test_the_baseline_run_writes_checkpoint_history_samples_and_figure10_metrics(baseline):
    metrics = json.loads((baseline / "metrics.json").read_text())
    assert FIGURE10 | {f"{k}_std" for k in FIGURE10} <= set(metrics)
    assert metrics["iterations"] == 6
    assert 0 < metrics["cov_l2"] <= 1 and metrics["mmd_l2"] > 0 and metrics["inception"] >= 1
    history = json.loads((baseline / "history.json").read_text())
    assert [r["iteration"] for r in history] == [2, 4, 6]
    assert {"g_loss", "d_loss"} <= set(history[0])
    ckpt = load_checkpoint(baseline / "checkpoints" / "last.pt")
    assert ckpt["loop"]["iteration"] == 6 and ckpt["loop"]["finished"]
    assert set(ckpt["modules"]) == {"generator", "discriminator"}
    samples = __import__("numpy").load(baseline / "samples.npz")
    assert samples["grid"].shape == (8, 1, 28, 28)
    assert samples["interpolation"].shape == (2, 3, 28, 28)
    assert json.loads((baseline / "status.json").read_text())["status"] == "completed"


def test_the_topology_stage_moves_only_the_generator(baseline, data_root, tmp_path):
    cfg = _cfg("topology", tmp_path / "topo", data_root, f"task.init_from={baseline}")
    metrics = run(cfg)
    assert metrics["iterations"] == 6 and set(metrics) >= FIGURE10
    before = load_checkpoint(baseline / "checkpoints" / "last.pt")["modules"]
    after = load_checkpoint(tmp_path / "topo" / "checkpoints" / "last.pt")["modules"]
    # the prior alone: the discriminator is kept but not trained
    assert all(
        torch.equal(before["discriminator"][k], v) for k, v in after["discriminator"].items()
    )
    moved = [not torch.equal(before["generator"][k], v) for k, v in after["generator"].items()]
    assert any(moved)
    history = json.loads((tmp_path / "topo" / "history.json").read_text())
    assert all("topology_loss" in r and "g_loss" not in r for r in history)


@pytest.mark.slow
def test_the_topology_stage_can_keep_the_adversarial_loss(baseline, data_root, tmp_path):
    cfg = _cfg(
        "topology", tmp_path / "t", data_root, f"task.init_from={baseline}",
        "task.adversarial_weight=0.5", "trainer.iterations=2",
    )  # fmt: skip
    run(cfg)
    history = json.loads((tmp_path / "t" / "history.json").read_text())
    assert {"topology_loss", "g_loss", "d_loss"} <= set(history[-1])


def test_the_latent_stage_lowers_the_topology_loss_of_the_frozen_generator(
    baseline, data_root, tmp_path
):
    base = json.loads((baseline / "metrics.json").read_text())
    cfg = _cfg(
        "latent", tmp_path / "lat", data_root, f"task.init_from={baseline}",
        "trainer.iterations=0", "task.latent_steps=30", "task.latent_lr=1.0",
    )  # fmt: skip
    metrics = run(cfg)
    assert metrics["iterations"] == 0
    assert metrics["topology_loss"] < base["topology_loss"]
    # nothing was trained: the run keeps the baseline's weights
    before = load_checkpoint(baseline / "checkpoints" / "last.pt")["modules"]["generator"]
    after = load_checkpoint(tmp_path / "lat" / "checkpoints" / "last.pt")["modules"]["generator"]
    assert all(torch.equal(before[k], v) for k, v in after.items())


@pytest.mark.slow
def test_the_pd_discriminator_stage_and_the_continued_gan_run(baseline, data_root, tmp_path):
    cfg = _cfg("pd_discriminator", tmp_path / "pd", data_root, f"task.init_from={baseline}",
               "trainer.iterations=2")  # fmt: skip
    run(cfg)
    ckpt = load_checkpoint(tmp_path / "pd" / "checkpoints" / "last.pt")
    assert set(ckpt["modules"]) == {"generator", "discriminator", "feature_discriminator"}
    cfg = _cfg("gan_60k", tmp_path / "more", data_root, f"task.init_from={baseline}",
               "trainer.iterations=2")  # fmt: skip
    run(cfg)
    opt = load_checkpoint(tmp_path / "more" / "checkpoints" / "last.pt")["optimizers"]
    # Adam's step counts continue from the baseline's 6 steps
    assert int(opt["generator"]["state"][0]["step"]) == 6 + 2


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_uninterrupted_state(data_root, tmp_path):
    run(_cfg("baseline", tmp_path / "whole", data_root))
    run(_cfg("baseline", tmp_path / "parts", data_root, "trainer.iterations=3"))
    run(
        _cfg(
            "baseline", tmp_path / "parts", data_root,
            "trainer.resume=true", "trainer.resume_allow=[trainer.iterations]",
        )
    )  # fmt: skip
    a = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.pt")["modules"]
    b = load_checkpoint(tmp_path / "parts" / "checkpoints" / "last.pt")["modules"]
    for net in a:
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k}"
    ma = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    mb = json.loads((tmp_path / "parts" / "metrics.json").read_text())
    assert ma["mmd_l2"] == mb["mmd_l2"] and ma["inception"] == mb["inception"]
    resumes = json.loads((tmp_path / "parts" / "resumes.json").read_text())
    assert "trainer.iterations" in resumes[-1]["changed"]


def test_a_nan_loss_stops_the_run_keeping_the_last_good_checkpoint(tmp_path):
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    trainer = GANTrainer(iterations=10, checkpoint_every=2, log_every=1, progress=False)

    def step(it: int) -> dict[str, float]:
        return {"loss": float("nan") if it == 4 else 1.0}  # the 5th step fails

    with pytest.raises(FloatingPointError, match=r"iteration 5.*last good state \(iteration 4\)"):
        trainer.fit({"net": net}, {"net": opt}, None, step, tmp_path)
    assert load_checkpoint(tmp_path / "last.pt")["loop"]["iteration"] == 4


def test_stages_after_the_baseline_need_init_from(data_root, tmp_path):
    cfg = _cfg("topology", tmp_path / "x", data_root, "task.init_from=null")
    with pytest.raises(ConfigError, match=r"task\.init_from"):
        preflight(cfg)
    cfg = _cfg("topology", tmp_path / "y", data_root, f"task.init_from={tmp_path / 'none'}")
    with pytest.raises(ConfigError, match=r"task.init_from.*does not exist"):
        run(cfg)
    with pytest.raises(ConfigError, match="loss"):
        preflight(_cfg("topology", tmp_path / "z", data_root, "loss=none"))


def test_the_report_writes_the_table_figures_and_claims(baseline, data_root, tmp_path):
    import shutil

    import pandas as pd

    from topoexp.report.toplayer_generator import main

    runs = tmp_path / "runs"
    shutil.copytree(baseline, runs / "baseline")
    run(_cfg("topology", runs / "topology", data_root, f"task.init_from={baseline}",
             "trainer.iterations=2"))  # fmt: skip
    reference = tmp_path / "paper.csv"
    pd.DataFrame(
        [{"data": "mnist_images", "model": "baseline_generator", "mmd_l2": 28.0,
          "mmd_l2_std": 0.1, "cov_l2": 0.05, "cov_l2_std": 0.006, "mmd_wass": 1.56,
          "mmd_wass_std": 0.08, "cov_wass": 0.11, "cov_wass_std": 0.01, "inception": 4.6,
          "inception_std": 0.1}]
    ).to_csv(reference, index=False)  # fmt: skip
    main(["--runs", str(runs), "--reference", str(reference), "--out", str(tmp_path / "out")])
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| a: baseline_generator | " in table and "28.00 ± 0.10" in table
    assert "| c: topology_generator | " in table
    for name in ("figure8.png", "figure9.png", "claims.md", "provenance.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert prov["topology_generator"]["iterations"] == 2


def test_the_claims_follow_their_rules():
    from topoexp.report.toplayer_generator import FIGURE10, claims

    def metrics(shift: float, one: float) -> dict:
        m = {}
        for k, larger in FIGURE10.items():
            m[k], m[f"{k}_std"] = 10 + (shift if larger else -shift), 0.1
        return m | {"one_component": one, "h0_bars": 1.0}

    runs = {
        "baseline_generator": {"metrics": metrics(0.0, 0.2)},
        "topology_generator": {"metrics": metrics(1.0, 0.9)},
        "gan_plus_60k": {"metrics": metrics(0.5, 0.3)},
    }
    first, second = claims(runs)
    assert first["verdict"] == "supported" and second["verdict"] == "supported"
    runs["topology_generator"]["metrics"]["inception"] = 10.15  # within the noise
    runs["gan_plus_60k"]["metrics"]["one_component"] = 0.95
    first, second = claims(runs)
    assert first["verdict"].startswith("not supported (4 of 5")
    assert second["verdict"] == "not supported"
