"""The composed configuration: defaults, experiments, and errors that name the key."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from tests.conftest import CONF_DIR, EXPERIMENT_BASES, compose
from topoexp.config.validate import ConfigError
from topoexp.run import preflight

EXPERIMENTS = sorted(
    p.relative_to(CONF_DIR / "experiment").with_suffix("").as_posix()
    for p in (CONF_DIR / "experiment").rglob("*.yaml")
)


def test_default_run_is_spheres_topoae_table1(tmp_path):
    default = compose([], tmp_path)
    explicit = compose(["+experiment=spheres/topoae"], tmp_path)
    assert default.method == "topoae" and default.dataset.name == "spheres"
    assert default.loss.signature.weight == pytest.approx(0.433577)
    assert default.trainer.batch_size == 28 and default.trainer.lr == pytest.approx(2.72684e-4)
    # identical jobs (the experiment only adds the W&B group)
    a, b = OmegaConf.to_container(default), OmegaConf.to_container(explicit)
    a["logger"].pop("group"), b["logger"].pop("group")
    assert a == b


BASES = EXPERIMENT_BASES


@pytest.mark.parametrize("name", [e for e in EXPERIMENTS if e not in BASES])
def test_every_experiment_composes_and_validates(name, tmp_path):
    cfg = compose([f"+experiment={name}"], tmp_path)
    preflight(cfg)


@pytest.mark.parametrize(("name", "key"), sorted(BASES.items()))
def test_a_protocol_base_composes_and_is_refused_alone_naming_the_key(name, key, tmp_path):
    cfg = compose([f"+experiment={name}"], tmp_path)
    with pytest.raises(ConfigError) as info:
        preflight(cfg)
    assert info.value.key == key and "'images'" in str(info.value)


@pytest.mark.parametrize(
    ("method", "batch", "lr", "lam"),
    [
        ("ae", 84, 6.40628e-4, None),
        ("topoae", 28, 2.72684e-4, 0.433577),
        ("topopca", 24, 2.98911e-3, 1.714954),
    ],
)
def test_spheres_best_hyperparameters(method, batch, lr, lam, tmp_path):
    cfg = compose([f"+experiment=spheres/{method}"], tmp_path)
    assert (cfg.trainer.batch_size, cfg.trainer.lr) == (batch, lr)
    assert cfg.trainer.fit_on == "fit" and cfg.evaluator.data_mse == "last_epoch"
    if lam is None:  # the plain autoencoder: no regulariser
        assert OmegaConf.to_container(cfg.loss) == {}
    else:
        assert list(cfg.loss) == ["signature"] and cfg.loss.signature.weight == lam
        assert cfg.loss.signature._target_.endswith("regularisers.TopologicalSignature")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("trainer.batchsize=3", "batchsize"),
        ("trainer.batch_size=abc", "trainer.batch_size"),
        ("loss.signature.weight=oops", "loss.signature.weight"),
        ("loss.signature.half=maybe", "loss.signature.half"),
        ("model.hidden=[a,b]", "model.hidden"),
    ],
)
def test_wrong_key_or_type_fails_at_composition_naming_the_key(override, key, tmp_path):
    with pytest.raises(ConfigCompositionException) as info:
        compose([override], tmp_path)
    message = str(info.value) + str(info.value.__cause__)
    assert key in message


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["loss.signature.weight=-0.1"], "loss.signature.weight"),
        (["trainer.batch_size=1"], "trainer.batch_size"),
        (["trainer.lr=0"], "trainer.lr"),
        (["+trainer.foo=1"], "trainer.foo"),
        (["+bogus=1"], "bogus"),
        (["+model.perplexity=30"], "model.perplexity"),
        (["model.batchnorm=middle"], "model.batchnorm"),
        (["trainer.device=tpu9"], "trainer.device"),
        (["dataset=mnist", "dataset.name=mnits"], "dataset.name"),
        (
            ["evaluator.diagrams.enabled=true", "evaluator.diagrams.distances=[energy]"],
            "evaluator.diagrams.distances",
        ),
        (
            ["evaluator.diagrams.enabled=true", "evaluator.diagrams.normalisations=[p200]"],
            "evaluator.diagrams.normalisations",
        ),
        (["loss.signature.match_edges=diagonal"], "loss.signature.match_edges"),
        (["loss.signature.data_norm=max"], "loss.signature.data_norm"),
        (["trainer.fit_on=everything"], "trainer.fit_on"),
        (["trainer.num_threads=0"], "trainer.num_threads"),
        (["evaluator.k_min=300"], "evaluator.k_min"),
        (["model.latent_dim=0"], "model.latent_dim"),
        (["model.hidden=[32,0]"], "model.hidden"),
        (["dataset.val_fraction=1.5"], "dataset.val_fraction"),
        (["+experiment=spheres/tsne", "model.perplexity=-5"], "model.perplexity"),
        (["+experiment=spheres/tsne", "model.init=spectral"], "model.init"),
        (["+experiment=spheres/pca", "loss=signature"], "loss.signature"),  # PCA is not trained
        (["+experiment=spheres/pca", "+model.hidden=[3]"], "model.hidden"),
        (["logger=wandb", "logger.mode=sometimes"], "logger.mode"),
        (["task._target_=topoexp.tasks.nowhere.Task"], "task._target_"),
    ],
)
def test_invalid_values_fail_before_anything_is_built_naming_the_key(overrides, key, tmp_path):
    cfg = compose(overrides, tmp_path)
    with pytest.raises(ConfigError) as info:
        preflight(cfg)
    assert info.value.key == key
    assert key in str(info.value)


def test_batch_of_one_allowed_without_topological_loss(tmp_path):
    preflight(compose(["+experiment=spheres/ae", "trainer.batch_size=1"], tmp_path))


def test_help_lists_only_real_choices():
    """No internal schema appears as a choice (``dataset=image_schema`` used to be offered)."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    done = subprocess.run(
        [sys.executable, "-m", "topoexp", "--help"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    groups = done.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    assert "schema" not in groups
    listed = dict(line.split(": ", 1) for line in groups.strip().splitlines()[1:] if ": " in line)
    for group in ("task", "dataset", "model", "loss", "trainer", "evaluator", "logger"):
        options = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
        assert listed[group].split(", ") == options, group
    assert {"mlp", "deep", "pca"} <= set(listed["model"].split(", "))
