"""Combinations a new user tries: each runs, or fails in preflight naming the keys involved.

These are the five commands that used to fail inside training or after it (a COREL model on
SPHERES, the generative models' constant input size, one-class scoring of a TopoAE, a barcode
penalty on an autoencoder, an objective the task does not report).
"""

from __future__ import annotations

import json

import pytest
from omegaconf import open_dict

from tests.conftest import TINY, compose
from topoexp.config.validate import ConfigError
from topoexp.run import preflight, run

ONE_CLASS_TINY = [
    *[t for t in TINY if not t.startswith("evaluator.")],
    "task=one_class", "evaluator=one_class", "evaluator.m_values=[5]", "evaluator.runs=1",
    "task.death_time_batches=2", "task.death_time_batch_size=5", "dataset.n_samples=60",
    "objective=auc_m5",
]  # fmt: skip


def test_corel_on_spheres_is_refused_naming_the_model_and_the_data(tmp_path):
    with pytest.raises(ConfigError) as info:
        preflight(compose(["model=corel", "loss=signature", "dataset=spheres"], tmp_path))
    assert info.value.key == "dataset"
    assert "model=corel" in str(info.value) and "dataset=spheres" in str(info.value)
    assert "images" in str(info.value)


@pytest.mark.parametrize("model", ["gen_ae", "vae"])
def test_generative_models_take_their_input_size_from_the_data(model, tmp_path):
    # SPHERES has 101 features but values outside [0, 1]: the Bernoulli decoder is refused
    with pytest.raises(ConfigError, match=f"model={model} needs 'unit_interval'"):
        preflight(compose([f"model={model}", "loss=none", "dataset=spheres"], tmp_path))
    # PATTERNS (1 × 32 × 32 in [0, 1]) trains: the input size is the data's 1024, not 784
    overrides = [
        f"model={model}", "loss=homological", "dataset=patterns", "logger=none",
        "trainer.max_epochs=1", "trainer.batch_size=16", "trainer.progress=false",
        "evaluator.k_min=2", "evaluator.k_max=10", "evaluator.k_step=2", "evaluator.plot=false",
    ]  # fmt: skip
    metrics = run(compose(overrides, tmp_path / "run"))
    assert metrics["epochs"] == 1 and 0 <= metrics["trust"] <= 1


def test_a_topoae_is_scored_one_class(tmp_path):
    metrics = run(compose(["model=mlp", "loss=signature", *ONE_CLASS_TINY], tmp_path / "run"))
    assert 0 <= metrics["auc_m5"] <= 1
    assert json.loads((tmp_path / "run" / "status.json").read_text())["status"] == "completed"


def test_a_barcode_penalty_of_the_optimise_task_is_refused_as_a_regulariser(tmp_path):
    with pytest.raises(ConfigError, match="loss") as info:
        preflight(compose(["model=mlp", "loss=barcode", "dataset=spheres"], tmp_path))
    assert "regulariser" in str(info.value) or "_target_" in str(info.value)
    # the topology layer's barcode energy on the latents is the regulariser to use
    metrics = run(compose(["model=mlp", "loss=[signature,latent_barcode]", *TINY], tmp_path / "r"))
    assert metrics["epochs"] == 3


def test_an_objective_the_task_does_not_report_is_refused_before_training(tmp_path):
    overrides = [
        "task=one_class", "model=corel", "loss=none", "evaluator=one_class", "dataset=patterns",
        "logger=none", "trainer.max_epochs=1",
    ]  # fmt: skip
    with pytest.raises(ConfigError) as info:
        preflight(compose(overrides, tmp_path))
    assert info.value.key == "objective" and "kl_0.1" in str(info.value)
    assert "auc_m80" in str(info.value)  # what the run would report
    assert not (tmp_path / "status.json").exists()  # nothing was written


def test_a_gan_run_needs_a_trainer_of_gan_stages(tmp_path):
    cfg = compose(["+experiment=toplayer/generator/baseline"], tmp_path)
    preflight(cfg)  # trainer=gan
    with open_dict(cfg):  # the autoencoders' trainer in its place
        cfg.trainer = compose(["trainer=default"], tmp_path).trainer
    with pytest.raises(ConfigError) as info:
        preflight(cfg)
    assert info.value.key == "trainer" and "'gan_stages'" in str(info.value)
    assert "trainer=default" in str(info.value)  # the trainer it got


@pytest.mark.parametrize(
    ("override", "key", "capability"),
    [
        ("dataset=spheres", "dataset", "'problem'"),
        ("loss=signature", "loss.signature", "'penalty'"),
        ("loss=[barcode,homological]", "loss.homological", "'penalty'"),
    ],
)
def test_the_optimise_task_needs_a_problem_and_a_penalty(override, key, capability, tmp_path):
    base = [
        "task=optimise", "objective=loss", "dataset=problem/points", "loss=barcode",
    ]  # fmt: skip
    preflight(_nulled(compose(base, tmp_path)))
    with pytest.raises(ConfigError) as info:
        preflight(_nulled(compose([*base, override], tmp_path)))
    assert info.value.key == key and capability in str(info.value)


def _nulled(cfg):
    """The optimise task's config: no model, trainer or evaluator (``model=null`` on the CLI)."""
    with open_dict(cfg):
        for key in ("model", "trainer", "evaluator"):
            cfg[key] = None
    return cfg
