"""Checks between config values that a type alone cannot express.

Run before anything is built or trained, so a bad sweep point or a typo fails in milliseconds with
the offending key named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields

from omegaconf import DictConfig

from topoexp.config import schema
from topoexp.config.schema import AUTOENCODERS, BASELINES


class ConfigError(ValueError):
    """An invalid configuration value; the message names the full key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"invalid config value for '{key}': {message}")
        self.key = key


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(key, message)


def _one_of(cfg: DictConfig, key: str, choices: Iterable[str]) -> None:
    value = _get(cfg, key)
    choices = tuple(choices)
    _require(value in choices, key, f"got {value!r}, expected one of {', '.join(choices)}")


def _get(cfg: DictConfig, key: str) -> object:
    node: object = cfg
    for part in key.split("."):
        node = node[part]  # type: ignore[index]
    return node


def _schema_for(group: str, node: DictConfig) -> type | None:
    name = node.get("name")
    if group == "dataset":
        return schema.SpheresConf if name == "spheres" else schema.ImageDatasetConf
    if group == "model":
        by_name = {
            "pca": schema.PCAConf,
            "tsne": schema.TSNEConf,
            "umap": schema.UMAPConf,
            "isomap": schema.IsomapConf,
        }
        return by_name.get(name, schema.AutoencoderConf)
    if group == "loss":
        return schema.SignatureLossConf if name == "signature" else schema.NoLossConf
    return {
        "trainer": schema.TrainerConf,
        "evaluator": schema.EvaluatorConf,
        "logger": schema.LoggerConf,
        "paths": schema.PathsConf,
    }.get(group)


def _check_keys(cfg: DictConfig) -> None:
    """Keys added with ``+key=value`` bypass the schema at composition; catch them here."""
    root = {f.name for f in fields(schema.Config)}
    for key in cfg:
        _require(key in root, str(key), f"unknown top-level key; known: {', '.join(sorted(root))}")
    for group in ("dataset", "model", "loss", "trainer", "evaluator", "logger", "paths"):
        node_schema = _schema_for(group, cfg[group])
        if node_schema is None:
            continue
        known = {f.name for f in fields(node_schema)}
        for key in cfg[group]:
            _require(
                key in known,
                f"{group}.{key}",
                f"unknown key for {node_schema.__name__}; known: {', '.join(sorted(known))}",
            )


def _check_dataset(cfg: DictConfig) -> None:
    ds = cfg.dataset
    _require(
        0.0 < ds.val_fraction < 1.0,
        "dataset.val_fraction",
        f"must lie in (0, 1), got {ds.val_fraction}",
    )
    if ds.name != "spheres":
        from topoexp.data.images import IMAGE_DATASETS, TRANSFORMS

        _one_of(cfg, "dataset.name", ("spheres", *IMAGE_DATASETS))
        _one_of(cfg, "dataset.transform", tuple(TRANSFORMS))
        pooled = ds.pooled_test_fraction
        _require(
            pooled is None or 0.0 < pooled < 1.0,
            "dataset.pooled_test_fraction",
            f"must lie in (0, 1) or be null, got {pooled}",
        )
    if ds.name == "spheres":
        _require(
            0.0 < ds.test_fraction < 1.0,
            "dataset.test_fraction",
            f"must lie in (0, 1), got {ds.test_fraction}",
        )
        _require(ds.n_samples >= 1, "dataset.n_samples", f"must be ≥ 1, got {ds.n_samples}")
        _require(ds.n_spheres >= 2, "dataset.n_spheres", f"must be ≥ 2, got {ds.n_spheres}")
        _require(ds.d >= 1, "dataset.d", f"must be ≥ 1, got {ds.d}")
        _require(ds.r > 0, "dataset.r", f"must be > 0, got {ds.r}")


def _check_model(cfg: DictConfig) -> None:
    _one_of(cfg, "model.name", AUTOENCODERS + BASELINES)
    m = cfg.model
    if m.name in BASELINES:
        _require(m.n_components >= 1, "model.n_components", f"must be ≥ 1, got {m.n_components}")
    if m.name in AUTOENCODERS:
        _one_of(cfg, "model.batchnorm", ("before_relu", "after_relu"))
        _require(m.latent_dim >= 1, "model.latent_dim", f"must be ≥ 1, got {m.latent_dim}")
        _require(
            all(h >= 1 for h in m.hidden),
            "model.hidden",
            f"sizes must be ≥ 1, got {list(m.hidden)}",
        )
    if m.name == "tsne":
        _require(m.perplexity > 0, "model.perplexity", f"must be > 0, got {m.perplexity}")
        _require(
            m.learning_rate is None or m.learning_rate > 0,
            "model.learning_rate",
            f"must be > 0 or null (auto), got {m.learning_rate}",
        )
        _require(m.max_iter > 250, "model.max_iter", f"must be > 250, got {m.max_iter}")
        _one_of(cfg, "model.lr_convention", ("bhtsne", "sklearn"))
        _one_of(cfg, "model.implementation", ("opentsne", "sklearn"))
        _one_of(cfg, "model.negative_gradient_method", ("auto", "fft", "bh"))
    if m.name in ("umap", "isomap"):
        _require(m.n_neighbors >= 2, "model.n_neighbors", f"must be ≥ 2, got {m.n_neighbors}")
    if m.name == "umap":
        _require(m.min_dist >= 0, "model.min_dist", f"must be ≥ 0, got {m.min_dist}")


def _check_loss(cfg: DictConfig) -> None:
    _one_of(cfg, "loss.name", ("none", "signature"))
    if cfg.loss.name == "signature":
        loss = cfg.loss
        _require(loss.lam >= 0, "loss.lam", f"λ must be ≥ 0, got {loss.lam}")
        _one_of(cfg, "loss.match_edges", ("symmetric", "none", "random"))
        _one_of(cfg, "loss.data_norm", ("auto", "batch_max", "image_max", "none"))
        _require(
            cfg.model.name in AUTOENCODERS,
            "loss.name",
            f"a topological loss needs an autoencoder model, got model.name={cfg.model.name!r}",
        )
        _require(
            cfg.trainer.batch_size >= 2,
            "trainer.batch_size",
            f"a topological loss needs batches of ≥ 2 points, got {cfg.trainer.batch_size}",
        )


def _check_trainer(cfg: DictConfig) -> None:
    t = cfg.trainer
    _require(t.batch_size >= 1, "trainer.batch_size", f"must be ≥ 1, got {t.batch_size}")
    _require(t.lr > 0, "trainer.lr", f"must be > 0, got {t.lr}")
    _require(t.weight_decay >= 0, "trainer.weight_decay", f"must be ≥ 0, got {t.weight_decay}")
    _require(t.max_epochs >= 1, "trainer.max_epochs", f"must be ≥ 1, got {t.max_epochs}")
    _require(t.patience >= 1, "trainer.patience", f"must be ≥ 1, got {t.patience}")
    _require(t.num_threads >= 0, "trainer.num_threads", f"must be ≥ 0, got {t.num_threads}")
    _one_of(cfg, "trainer.fit_on", ("fit", "train"))
    try:
        import torch

        device = torch.device(t.device)
    except (RuntimeError, TypeError) as error:
        raise ConfigError("trainer.device", f"not a torch device: {t.device!r}") from error
    _require(
        device.type != "cuda" or torch.cuda.is_available(),
        "trainer.device",
        f"{t.device!r} requested but CUDA is not available",
    )


def _check_evaluator(cfg: DictConfig) -> None:
    e = cfg.evaluator
    _one_of(cfg, "evaluator.split", ("test", "validation"))
    _one_of(cfg, "evaluator.data_mse", ("last_epoch", "best"))
    _require(
        1 <= e.k_min <= e.k_max,
        "evaluator.k_min",
        f"need 1 ≤ k_min ≤ k_max, got {e.k_min}, {e.k_max}",
    )
    _require(e.k_step >= 1, "evaluator.k_step", f"must be ≥ 1, got {e.k_step}")
    _require(all(s > 0 for s in e.sigmas), "evaluator.sigmas", f"must be > 0, got {list(e.sigmas)}")
    d = e.diagrams
    if d.enabled:
        from topoexp.evaluation.diagrams import DISTANCES

        _require(
            all(k in (0, 1, 2) for k in d.dims),
            "evaluator.diagrams.dims",
            f"must be in 0..2, got {list(d.dims)}",
        )
        unknown = [x for x in d.distances if x not in DISTANCES]
        _require(
            not unknown,
            "evaluator.diagrams.distances",
            f"unknown {unknown}; known: {', '.join(DISTANCES)}",
        )
        bad = [x for x in d.normalisations if x not in ("raw", "maxnorm") and not _is_percentile(x)]
        _require(
            not bad, "evaluator.diagrams.normalisations", f"unknown {bad}; use raw, maxnorm or pXX"
        )
        _one_of(cfg, "evaluator.diagrams.essential", ("drop", "cap", "error"))
        _require(
            d.n_directions >= 1,
            "evaluator.diagrams.n_directions",
            f"must be ≥ 1, got {d.n_directions}",
        )
        _require(
            d.n_subsamples >= 1,
            "evaluator.diagrams.n_subsamples",
            f"must be ≥ 1, got {d.n_subsamples}",
        )
        _require(
            d.subsample_size is None or d.subsample_size >= 3,
            "evaluator.diagrams.subsample_size",
            f"must be ≥ 3 or null, got {d.subsample_size}",
        )


def _is_percentile(name: str) -> bool:
    try:
        return name.startswith("p") and 0 < float(name[1:]) <= 100
    except ValueError:
        return False


def _check_logger(cfg: DictConfig) -> None:
    _one_of(cfg, "logger.name", ("wandb", "none"))
    _one_of(cfg, "logger.mode", ("auto", "online", "offline", "disabled"))


CHECKS: tuple[Callable[[DictConfig], None], ...] = (
    _check_keys,
    _check_dataset,
    _check_model,
    _check_trainer,
    _check_loss,
    _check_evaluator,
    _check_logger,
)


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` naming the first invalid key of ``cfg``."""
    for check in CHECKS:
        check(cfg)
