"""``evaluators=[generative]``: the generative metrics of any task's model that can sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import compose
from tests.test_homreg_task import LATENT_METRICS, METRICS, N_TEST
from topoexp.config.validate import ConfigError
from topoexp.run import preflight, run


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    from tests.test_homreg_task import write_fake_mnist, write_stand_in_classifier

    root = tmp_path_factory.mktemp("generative_entry")
    write_fake_mnist(root / "data")
    return root / "data", write_stand_in_classifier(root / "assets")


def _embedding(inputs: tuple[Path, Path], model: str, *overrides: str) -> list[str]:
    """A homologically regularised autoencoder on a few MNIST-shaped images, one epoch."""
    data, assets = inputs
    return [
        "dataset=mnist", "dataset.transform=corel", f"paths.data_dir={data}",
        "dataset.verify_checksums=false", f"model={model}", "loss=homological",
        "evaluators=[generative]", "logger=none", "trainer.max_epochs=1",
        "trainer.batch_size=16", "trainer.progress=false", "trainer.num_threads=1",
        "evaluator.k_min=2", "evaluator.k_max=10", "evaluator.k_step=2", "evaluator.plot=false",
        "evaluators.generative.n_samples=40",
        f"evaluators.generative.classifier_dir={assets}",
        "evaluators.generative.latent_batch_size=16", *overrides,
    ]  # fmt: skip


@pytest.mark.parametrize("model", ["gen_ae", "vae"])
def test_an_embedding_run_reports_the_generative_metrics_of_its_model(model, inputs, tmp_path):
    metrics = run(compose(_embedding(inputs, model), tmp_path / "run"))
    out = tmp_path / "run"
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    assert set(metrics) >= METRICS | LATENT_METRICS and {"kl_0.1", "trust"} <= set(metrics)
    assert all(np.isfinite(metrics[k]) for k in METRICS | LATENT_METRICS)
    assert metrics["n_samples"] == 40 and metrics["n_real"] == N_TEST  # the evaluated split
    assert 0 <= metrics["precision"] <= 1 and 0 <= metrics["fraction_in_ball"] <= 1
    assert (out / "generative_samples.png").stat().st_size > 0
    assert json.loads((out / "metrics.json").read_text()) == pytest.approx(metrics, nan_ok=True)


def test_the_sweep_objective_may_be_a_generative_metric(inputs, tmp_path):
    preflight(compose(_embedding(inputs, "gen_ae", "objective=fid"), tmp_path))


@pytest.mark.parametrize(
    ("overrides", "key", "named"),
    [
        # a model that cannot sample: both keys named, and what the entry needs
        (["model=deep", "loss=none"], "evaluators.generative", ["model=deep", "'prior'"]),
        (["dataset=patterns"], "evaluators.generative.classifier_dir", ["dataset=patterns"]),
        (["dataset.transform=corel32"], "dataset.transform", ["corel"]),
        (["evaluators.generative.n_samples=3"], "evaluators.generative.n_samples", []),
        (
            ["task=generative", "trainer=homreg", "objective=fid"],
            "evaluators.generative",
            ["task=generative"],
        ),
    ],
)
def test_preflight_refuses_what_the_entry_cannot_score(overrides, key, named, inputs, tmp_path):
    args = _embedding(inputs, "gen_ae", *overrides)
    if "dataset=patterns" in overrides:  # PATTERNS has no transform and no checksums
        args = [a for a in args if not a.startswith("dataset.")]
    with pytest.raises(ConfigError) as info:
        preflight(compose(args, tmp_path / "run"))
    assert info.value.key == key
    assert all(n in str(info.value) for n in named), str(info.value)
    assert not (tmp_path / "run").exists()


def test_an_evaluated_split_smaller_than_a_latent_batch_is_refused_before_training(
    inputs, tmp_path
):
    cfg = compose(
        _embedding(inputs, "gen_ae", f"evaluators.generative.latent_batch_size={N_TEST + 1}"),
        tmp_path / "run",
    )
    with pytest.raises(ConfigError) as info:
        run(cfg)
    assert info.value.key == "evaluators.generative.latent_batch_size"
    assert json.loads((tmp_path / "run" / "status.json").read_text())["status"] == "failed"
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()
