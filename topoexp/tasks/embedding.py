"""The embedding task (TopoAE Table 1, the reproduction study): fit → embed → evaluate.

A trainable model with the regularisers of the ``loss`` group (e.g. TopoAE's signature term) is
trained by the ``trainer`` and encodes the evaluated split; a scikit-learn-style baseline (PCA,
t-SNE, UMAP, Isomap) is fitted on the training part instead. Any model that offers an encoder or
is an estimator can be embedded (:mod:`topoexp.tasks.composition`). The ``evaluator`` scores the
latents against the inputs, and the ``evaluators`` group's entries score them by other papers'
measures (:mod:`topoexp.evaluation.suite`). Writes ``latents.npz``, ``latents.png``,
``history.json``, ``losses.png`` and the checkpoints.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset

from topoexp import io
from topoexp.capabilities import ENCODER, ESTIMATOR, TRAINABLE, model_offers
from topoexp.config.build import build
from topoexp.config.markers import ArgumentError
from topoexp.config.validate import ConfigError, from_argument_error, require
from topoexp.data.base import DataSplits, as_arrays
from topoexp.evaluation.suite import Latents, score_all
from topoexp.models.baselines import has_inverse, has_transform
from topoexp.tasks.base import RunContext, TaskResult
from topoexp.tasks.composition import (
    build_evaluators,
    build_objective,
    check_composition,
    check_objective_metric,
    further_metric_names,
    regulariser_keys,
)

__all__ = ["Embedding", "EmbeddingTask", "embed_autoencoder", "embed_baseline", "encode_split"]

log = logging.getLogger("topoexp")


@dataclass(frozen=True)
class Embedding:
    """Evaluated inputs ``X`` (flattened), their latents, labels and row indices in ``split``."""

    X: np.ndarray
    latents: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    split: str
    data_mse: float | None = None


def is_autoencoder(model_node: DictConfig) -> bool:
    """Whether the ``model`` config builds a model trained by the trainer (not an estimator)."""
    return TRAINABLE in model_offers(model_node)


class EmbeddingTask:
    """Fit a model on one data set and score its latents of the evaluated split."""

    job_type = "embedding"

    def __init__(self, save_latents: bool = True) -> None:
        self.save_latents = save_latents

    def check(self, cfg: DictConfig) -> None:
        """Build the cheap components (their own checks) and check how they combine."""
        evaluator = build(cfg, "evaluator")
        build(cfg, "trainer")
        offered = check_composition(cfg, "task=embedding", needs_any={ENCODER, ESTIMATOR})
        own = evaluator.metric_names()
        produced = own + further_metric_names(cfg, own) + ["data_mse"]
        if TRAINABLE in offered:
            produced += ["epochs", "best_epoch"]
        check_objective_metric(cfg, produced, "task=embedding")
        if regulariser_keys(cfg):
            require(
                cfg.trainer.batch_size >= 2,
                "trainer.batch_size",
                f"a topological loss needs batches of ≥ 2 points, got {cfg.trainer.batch_size}",
            )

    def __call__(self, ctx: RunContext) -> TaskResult:
        cfg = ctx.cfg
        evaluator = ctx.build("evaluator")
        trainer = ctx.build("trainer", seed=ctx.seed)
        data: DataSplits = ctx.build("dataset", split_seed=ctx.seed)
        sizes = {s: len(data.split(s)) for s in ("fit", "train", "validation", "test")}
        log.info("data %s: %s, samples of shape %s", data.name, sizes, data.input_shape)
        ctx.record.add_facts(data=data.name, split_sizes=sizes, input_shape=data.input_shape)
        self._check_sizes(cfg, data, evaluator, trainer)

        model = ctx.build("model", input_shape=data.input_shape, random_state=ctx.seed)
        extra: dict[str, float] = {}
        figures: dict[str, Any] = {}
        if isinstance(model, torch.nn.Module):
            model = build_objective(cfg, model)
            n_params = sum(p.numel() for p in model.parameters())
            log.info("model: %s parameters, device %s\n%s", f"{n_params:,}", trainer.device, model)
            ctx.record.add_facts(parameters=n_params)
            embedding, extra, history = self._fit(ctx, model, data, evaluator, trainer)
            from topoexp.plotting.figures import loss_curves

            figures["losses"] = loss_curves(history, ctx.title)
        else:
            log.info("baseline: %s", model)
            embedding = embed_baseline(model, data, evaluator.split, ctx.seed)

        metrics, more = evaluator(embedding.X, embedding.latents, f"{cfg.method} on {data.name}")
        further = build_evaluators(cfg)
        if further:
            values, figs = score_all(further, self._latents(ctx, model, data, embedding), metrics)
            metrics |= values
            more |= figs
        if embedding.data_mse is not None:
            metrics["data_mse"] = float(embedding.data_mse)
        metrics |= {k: float(v) for k, v in extra.items()}
        figures |= more
        if self.save_latents:
            io.write_npz(
                ctx.output_dir / "latents.npz",
                latents=embedding.latents,
                labels=embedding.labels,
                indices=embedding.indices,
                split=np.asarray(embedding.split),
            )
        if evaluator.plot:
            from topoexp.plotting.figures import latent_scatter

            figures["latents"] = latent_scatter(embedding.latents, embedding.labels, ctx.title)
        return TaskResult(metrics, figures)

    @staticmethod
    def _latents(ctx: RunContext, model: Any, data: DataSplits, embedding: Embedding) -> Latents:
        """The evaluated latents and those of the fitting split for further evaluators."""
        fit = data.split("fit")
        if isinstance(model, torch.nn.Module):
            train_z, _ = encode_split(model, fit, 512)
        else:
            train_z = np.asarray(model.transform(as_arrays(fit)[0]))
        return Latents(
            inputs=embedding.X,
            latents=embedding.latents,
            labels=embedding.labels,
            train_latents=train_z,
            train_labels=as_arrays(fit)[1],
            n_branches=int(getattr(getattr(model, "model", model), "n_branches", 1)),
            title=ctx.title,
            model=getattr(model, "model", model) if isinstance(model, torch.nn.Module) else None,
            dataset=data.name,
        )

    @staticmethod
    def _check_sizes(cfg: DictConfig, data: DataSplits, evaluator, trainer) -> None:
        """Checks against the data's sizes, before any training (each names its key)."""
        n_eval = len(data.split(evaluator.split))
        try:
            evaluator.check_size(n_eval)
        except ArgumentError as error:
            raise from_argument_error(error, "evaluator") from None
        for name, further in build_evaluators(cfg).items():
            try:
                if hasattr(further, "check_size"):
                    further.check_size(n_eval)
                if hasattr(further, "check_classes"):
                    further.check_classes(
                        as_arrays(data.fit)[1], as_arrays(data.split(evaluator.split))[1]
                    )
            except ArgumentError as error:
                raise from_argument_error(error, f"evaluators.{name}") from None
        if is_autoencoder(cfg.model):
            try:
                trainer.check_sizes(len(data.split(trainer.fit_on)), len(data.validation))
            except ArgumentError as error:
                raise from_argument_error(error, "trainer") from None
        perplexity = cfg.model.get("perplexity")
        if perplexity is not None and 3 * perplexity >= n_eval - 1:
            raise ConfigError(
                "model.perplexity",
                f"{perplexity} is too large for the {n_eval} embedded points: t-SNE needs "
                f"3 × perplexity < n − 1 = {n_eval - 1}",
            )

    @staticmethod
    def _fit(ctx: RunContext, model, data: DataSplits, evaluator, trainer):
        def on_epoch(record: dict[str, float], state) -> None:
            ctx.write_history(state.history)
            ctx.sink.log_epoch(record)

        state = trainer.fit(
            model,
            fit_data=data.split(trainer.fit_on),
            validation=data.validation,
            test=data.test,
            checkpoint_dir=ctx.output_dir / "checkpoints",
            on_epoch=on_epoch,
            on_step=ctx.log_step,
        )
        ctx.write_history(state.history)
        embedding = embed_autoencoder(model, data, evaluator.split, trainer.batch_size)
        extra: dict[str, float] = {"epochs": state.epoch, "best_epoch": state.best_epoch}
        last = state.history[-1] if state.history else {}
        # the original's logged test MSE; models with another reconstruction term (COREL's ℓ1, a
        # BCE) log none, and the exact MSE of the evaluated model stands instead
        logged = "test/reconstruction_error" in last
        if evaluator.data_mse == "last_epoch" and evaluator.split == "test" and logged:
            extra["data_mse"] = last["test/reconstruction_error"]
        return embedding, extra, state.history


@torch.no_grad()
def encode_split(
    model: torch.nn.Module, dataset: Dataset, batch_size: int
) -> tuple[np.ndarray, float]:
    """Latents of ``dataset`` in eval mode and the exact mean squared reconstruction error."""
    model.eval()
    device = next(model.parameters()).device
    latents, squared_error, n_values = [], 0.0, 0
    for x, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False):
        x = x.to(device)
        x_hat, z = model(x)
        latents.append(z.reshape(len(z), -1).cpu().numpy())
        squared_error += float(((x_hat.reshape(x.shape) - x) ** 2).sum())
        n_values += x.numel()
    return np.concatenate(latents), squared_error / n_values


def embed_autoencoder(
    model: torch.nn.Module, data: DataSplits, split: str, batch_size: int
) -> Embedding:
    dataset = data.split(split)
    X, y = as_arrays(dataset)
    Z, mse = encode_split(model, dataset, batch_size)
    return Embedding(X=X, latents=Z, labels=y, indices=np.arange(len(X)), split=split, data_mse=mse)


def embed_baseline(estimator, data: DataSplits, split: str, seed: int) -> Embedding:
    """Fit on the training part; transform ``split``, or, without a transform (t-SNE), embed a
    seeded subsample of the training part of the split's size (spec §3.1)."""
    X_train, y_train = as_arrays(data.train)
    X_eval, y_eval = as_arrays(data.split(split))
    if not has_transform(estimator):
        Z_train = estimator.fit_transform(X_train)
        idx = np.random.RandomState(seed).permutation(len(X_train))[: len(X_eval)]
        return Embedding(X_train[idx], Z_train[idx], y_train[idx], idx, "train")
    estimator.fit(X_train)
    Z = estimator.transform(X_eval)
    mse = None
    if has_inverse(estimator):
        mse = float(np.mean((X_eval - estimator.inverse_transform(Z)) ** 2))
    return Embedding(X_eval, np.asarray(Z), y_eval, np.arange(len(X_eval)), split, mse)
