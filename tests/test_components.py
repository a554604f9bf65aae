"""Every experiment builds, and every config value reaches the object built from it.

For each file in ``conf/experiment/`` the components it names are built from the composed config
(``topoexp.config.build``) and each key of each component's config is compared with the built
object: its attribute of that name (on the object or a module it holds: a regulariser passes its
switches to the loss it wraps), or ``get_params()`` for scikit-learn estimators. A value that a
factory drops on the way (as ``model.batchnorm`` once was) makes the test fail. Each entry of the
``loss`` group (the regularisers) is built and checked the same way.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf
from torch.nn import Module

from tests.conftest import CONF_DIR, EXPERIMENT_BASES, compose
from topoexp.config.build import build
from topoexp.config.signatures import parameters
from topoexp.run import preflight
from topoexp.tasks.composition import regulariser_keys

EXPERIMENTS = sorted(
    p.relative_to(CONF_DIR / "experiment").with_suffix("").as_posix()
    for p in (CONF_DIR / "experiment").rglob("*.yaml")
    if p.relative_to(CONF_DIR / "experiment").with_suffix("").as_posix() not in EXPERIMENT_BASES
)
# Keys whose value is transformed on purpose on the way to the object, each with the reason.
TRANSFORMED = {
    # t-SNE: the rate is read in `lr_convention` and converted to the library's; null = "auto"
    ("topoexp.models.baselines.tsne", "learning_rate"),
    # openTSNE-only setting, dropped for scikit-learn's Barnes–Hut (documented in tsne())
    ("topoexp.models.baselines.tsne", "negative_gradient_method"),
    # the layer keeps the triangulated complex itself under `complex`, its name under `kind`
    ("topoexp.topology.layers.LevelSetLayer2D", "complex"),
    # generative AE / VAE: `prior: auto` is resolved to the prior the regulariser implies
    ("topoexp.models.generative.GenerativeAE", "prior"),
    ("topoexp.models.generative.VAE", "prior"),
}
_HOMOLOGICAL = "topoexp.losses.regularisers.Homological"
# Keys a component stores under another name (in the loss it wraps), each with where.
RENAMED = {
    (_HOMOLOGICAL, "weight"): "homological.coef",
    (_HOMOLOGICAL, "ball_norm"): "homological.ball.norm",
    (_HOMOLOGICAL, "ball_coef"): "homological.ball_coef",
    (_HOMOLOGICAL, "death_coef"): "homological.death_coef",
    (_HOMOLOGICAL, "cutoff"): "homological.cutoff",
}
# Keys whose null means "the value of another key" (the coefficient the loss then holds).
NULL_MEANS = {(_HOMOLOGICAL, "ball_coef"): "weight", (_HOMOLOGICAL, "death_coef"): "weight"}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Sequence) and not isinstance(a, str):
        return isinstance(b, Sequence) and not isinstance(b, str) and list(a) == list(b)
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12)
    return a == b


def _holds(obj: Any, key: str) -> bool:
    """``obj`` has a value ``key`` (not a method: ``nn.Module.half`` is no setting)."""
    return hasattr(obj, key) and not inspect.ismethod(getattr(obj, key))


def _value_of(obj: Any, key: str) -> Any:
    if hasattr(obj, "get_params") and not hasattr(obj, "parameters"):
        params = obj.get_params(deep=False)
        if key in params:
            return params[key]
    if "." in key:
        head, rest = key.split(".", 1)
        return _value_of(_value_of(obj, head), rest)
    if _holds(obj, key):
        return getattr(obj, key)
    if isinstance(obj, Module):  # the loss it wraps (TopologicalSignature.signature)
        for child in obj.children():
            if _holds(child, key):
                return getattr(child, key)
    raise AssertionError(f"{type(obj).__name__} keeps no '{key}': the value did not reach it")


def assert_reached(node: DictConfig, obj: Any, path: str) -> int:
    """Compare every key of ``node`` with ``obj``; return how many values were checked."""
    target = node._target_
    plain = OmegaConf.to_container(node, resolve=True)
    assert isinstance(plain, Mapping)
    checked = 0
    for key, value in plain.items():
        if key.startswith("_") or (target, key) in TRANSFORMED:
            continue
        child = node._get_node(key)
        if isinstance(child, DictConfig) and "_target_" in child:
            checked += assert_reached(node[key], _value_of(obj, key), f"{path}.{key}")
            continue
        got = _value_of(obj, RENAMED.get((target, key), key))
        if value is None and (target, key) in NULL_MEANS:
            value = plain[NULL_MEANS[target, key]]
        assert _same(value, got), f"{path}.{key}: config {value!r}, built object holds {got!r}"
        checked += 1
    return checked


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_config_value_reaches_the_object_built(name, tmp_path):
    cfg = compose([f"+experiment={name}", "logger=none"], tmp_path)
    preflight(cfg)
    n = 0
    for key in ("task", "evaluator", "logger"):
        if cfg[key] is not None:  # a task may leave a group unused (null)
            n += assert_reached(cfg[key], build(cfg, key), key)
    if cfg.trainer is not None:
        n += assert_reached(cfg.trainer, build(cfg, "trainer", seed=1), "trainer")
    if cfg.model is not None:
        model = build(cfg, "model", input_shape=_input_shape(cfg.dataset), random_state=1)
        n += assert_reached(cfg.model, model, "model")
    # a model's regularisers (loss.signature, ...) or the optimise task's penalties (loss.barcode)
    for key in regulariser_keys(cfg):
        n += assert_reached(OmegaConf.select(cfg, key), build(cfg, key), key)
    # data sets are built in their own tests (files); here every key must bind to the loader
    accepted = {p.name for p in parameters(cfg.dataset._target_)}
    assert set(cfg.dataset) - {"_target_"} <= accepted
    assert n >= (15 if cfg.model is not None else 10)  # optimise runs have no model/trainer


def _input_shape(dataset: DictConfig) -> tuple[int, ...]:
    """The sample shape the run takes from the data (without reading any files)."""
    if dataset.name == "spheres":
        return (101,)
    channels = 1 if dataset.name in ("mnist", "fmnist", "patterns") else 3
    side = 28 if channels == 1 and dataset.get("transform") != "corel32" else 32
    return (channels, side, side)


def test_the_study_network_is_relu_then_batch_norm(tmp_path):
    """The committed study rows once ran Linear → BatchNorm → ReLU: check the built layers."""
    from torch import nn

    cfg = compose(["+experiment=study/spheres_ae", "logger=none"], tmp_path)
    model = build(cfg, "model", input_shape=(101,))
    kinds = [type(m) for m in model.encoder][:3]
    assert kinds == [nn.Linear, nn.ReLU, nn.BatchNorm1d]
    default = build(compose(["logger=none"], tmp_path), "model", input_shape=(101,))
    assert [type(m) for m in default.encoder][:3] == [nn.Linear, nn.BatchNorm1d, nn.ReLU]


def test_spheres_dataset_keys_reach_the_splits(tmp_path):
    cfg = compose(["dataset.n_samples=30", "dataset.d=7", "dataset.val_fraction=0.5"], tmp_path)
    data = build(cfg, "dataset", split_seed=3)
    assert data.name == "spheres" and data.input_shape == (8,)
    total = len(data.fit) + len(data.test)
    assert total == 30 * 10 + 300
    assert len(data.test) == round(0.1 * total)
    assert abs(len(data.validation) - 0.5 * len(data.fit)) <= 1


def test_the_check_catches_a_dropped_value(tmp_path):
    """The old hand-written factory built the MLP without ``batchnorm``: the check must see it."""
    from topoexp.models.autoencoders import MLPAutoencoder

    cfg = compose(["+experiment=study/spheres_ae", "logger=none"], tmp_path)
    m = cfg.model
    as_the_old_factory_did = MLPAutoencoder(
        input_shape=(101,), hidden=tuple(m.hidden), latent_dim=m.latent_dim
    )
    with pytest.raises(AssertionError, match=r"model\.batchnorm: config 'after_relu'"):
        assert_reached(cfg.model, as_the_old_factory_did, "model")
