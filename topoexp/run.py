"""One run: validate → data → fit → embed → evaluate → write the run directory and the sinks.

Every output lands in ``paths.output_dir`` (Hydra's run directory), written atomically:
``config.yaml`` (resolved), ``metrics.json``, ``latents.npz``, ``latents.png``, ``history.json``,
``checkpoints/{last,best}.pt`` for autoencoders, and ``status.json`` (``completed``/``failed``).
"""

from __future__ import annotations

import json
import logging
import math
import random
import traceback
from pathlib import Path

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from topoexp import io
from topoexp.config.validate import validate
from topoexp.data import load_dataset
from topoexp.embed import Embedding, embed_autoencoder, embed_baseline
from topoexp.evaluation.diagram_plots import plot_diagrams
from topoexp.evaluation.diagrams import cloud_diagrams, diagram_metrics, subsample_indices
from topoexp.evaluation.nldr import nldr_metrics
from topoexp.models.factory import build_baseline, build_model, is_baseline
from topoexp.report.figures import latent_scatter
from topoexp.sinks import Sink, make_sink
from topoexp.training.loop import LoopConfig, train

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_torch(cfg: DictConfig) -> None:
    if cfg.trainer.num_threads > 0:
        torch.set_num_threads(cfg.trainer.num_threads)
    torch.use_deterministic_algorithms(cfg.trainer.deterministic, warn_only=True)


def _fit_autoencoder(cfg: DictConfig, data, output_dir: Path, sink: Sink) -> tuple[Embedding, dict]:
    model = build_model(cfg, data.input_shape)
    t = cfg.trainer
    state = train(
        model,
        fit_data=data.split(t.fit_on),
        validation=data.validation,
        test=data.test,
        config=LoopConfig(
            batch_size=t.batch_size,
            lr=t.lr,
            weight_decay=t.weight_decay,
            max_epochs=t.max_epochs,
            patience=t.patience,
            seed=cfg.seed,
            resume=t.resume,
            progress=t.progress,
            reload_best=t.reload_best,
            device=t.device,
        ),
        checkpoint_dir=output_dir / "checkpoints",
        on_epoch=sink.log_epoch,
    )
    io.write_json(output_dir / "history.json", state.history)
    embedding = embed_autoencoder(model, data, cfg.evaluator.split, t.batch_size)
    extra = {"epochs": state.epoch, "best_epoch": state.best_epoch}
    if cfg.evaluator.data_mse == "last_epoch" and cfg.evaluator.split == "test":
        extra["data_mse"] = state.history[-1]["test/reconstruction_error"]
    return embedding, extra


def _diagram_evaluation(cfg: DictConfig, embedding: Embedding) -> tuple[dict, dict]:
    """Diagram distances (flat keys) and the data-vs-latent diagram figures (raw and maxnorm)."""
    d = cfg.evaluator.diagrams
    metrics = diagram_metrics(
        embedding.X,
        embedding.latents,
        dims=tuple(d.dims),
        distances=tuple(d.distances),
        normalisations=tuple(d.normalisations),
        n_directions=d.n_directions,
        subsample_size=d.subsample_size,
        n_subsamples=d.n_subsamples,
        seed=d.seed,
        essential=d.essential,
    )
    figures = {}
    if d.plot:
        rows = subsample_indices(len(embedding.X), d.subsample_size, 1, d.seed)[0]
        maxdim = max(d.dims)
        data = cloud_diagrams(embedding.X[rows], maxdim, ("raw", "maxnorm"))
        latent = cloud_diagrams(embedding.latents[rows], maxdim, ("raw", "maxnorm"))
        for norm in ("raw", "maxnorm"):
            figures[f"diagrams_{norm}"] = plot_diagrams(
                data.normalised(norm), latent.normalised(norm), dims=list(d.dims),
                title=f"{cfg.method} on {cfg.dataset.name}: Rips diagrams ({norm})",
            )  # fmt: skip
    return metrics, figures


def _evaluate(cfg: DictConfig, embedding: Embedding, extra: dict) -> tuple[dict[str, float], dict]:
    e = cfg.evaluator
    metrics = nldr_metrics(
        embedding.X,
        embedding.latents,
        sigmas=tuple(e.sigmas),
        k_min=e.k_min,
        k_max=e.k_max,
        k_step=e.k_step,
    )
    if embedding.data_mse is not None:
        metrics["data_mse"] = embedding.data_mse
    metrics.update(extra)
    figures: dict = {}
    if e.diagrams.enabled:
        diagram_values, figures = _diagram_evaluation(cfg, embedding)
        metrics.update(diagram_values)
    return {k: float(v) for k, v in metrics.items()}, figures


def _write_outputs(
    output_dir: Path, embedding: Embedding, metrics: dict, figures: dict, plot: bool, title: str
) -> dict:
    io.write_json(output_dir / "metrics.json", metrics)
    io.write_npz(
        output_dir / "latents.npz",
        latents=embedding.latents,
        labels=embedding.labels,
        indices=embedding.indices,
        split=np.asarray(embedding.split),
    )
    figures = dict(figures)
    if plot:
        figures["latents"] = latent_scatter(embedding.latents, embedding.labels, title=title)
    for name, fig in figures.items():
        io.save_figure(output_dir / f"{name}.png", fig, dpi=150, bbox_inches="tight")
    return figures


def run(cfg: DictConfig) -> dict[str, float]:
    """Run the job ``cfg`` describes and return its flat metrics."""
    validate(cfg)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    io.write_text(output_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    configure_torch(cfg)
    seed_everything(cfg.seed)
    data = load_dataset(cfg.dataset, split_seed=cfg.seed)

    sink = make_sink(cfg, output_dir)
    failed = True
    try:
        io.write_json(output_dir / "status.json", {"status": "running"})
        if is_baseline(cfg.model):
            estimator = build_baseline(cfg.model, cfg.seed)
            embedding, extra = embed_baseline(estimator, data, cfg.evaluator.split, cfg.seed), {}
        else:
            embedding, extra = _fit_autoencoder(cfg, data, output_dir, sink)
        metrics, figures = _evaluate(cfg, embedding, extra)
        title = f"{cfg.method} on {cfg.dataset.name} (seed {cfg.seed})"
        figures = _write_outputs(output_dir, embedding, metrics, figures, cfg.evaluator.plot, title)
        sink.log_summary(metrics, figures)
        io.write_json(output_dir / "status.json", {"status": "completed"})
        failed = False
        log.info("metrics: %s", json.dumps(metrics, indent=1))
        log.info("run directory: %s", output_dir)
        return metrics
    except BaseException as error:
        io.write_json(
            output_dir / "status.json",
            {"status": "failed", "error": repr(error), "traceback": traceback.format_exc()},
        )
        raise
    finally:
        sink.finish(failed=failed)


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def run_for_sweep(cfg: DictConfig) -> float:
    """Hydra task function: run and return ``cfg.objective`` for sweepers.

    In a multirun a failed or non-finite trial scores ``cfg.failure_score`` (the original search's
    penalty) so the sweep goes on; a single run re-raises the error.
    """
    try:
        value = run(cfg)[cfg.objective]
    except Exception:
        if not _in_multirun():
            raise
        log.exception("trial failed; scoring failure_score=%s", cfg.failure_score)
        return float(cfg.failure_score)
    return float(value) if math.isfinite(value) else float(cfg.failure_score)
