"""The generative task (homological regularisation of autoencoders, spec C): fit → sample → score.

A generative autoencoder (:mod:`topoexp.models.generative`: the AE, the AE with the homological
regulariser or the disk penalty alone, the VAE) is trained by the ``trainer`` on the official
training split of MNIST or Fashion-MNIST in [0, 1] (protocol C.3: Adam 3e-4, batch 128, no early
stopping). It then decodes ``n_samples`` codes drawn from the prior it was trained for, and
:func:`~topoexp.evaluation.generative.evaluate_generator` scores them against the test split in
the feature space of the committed classifier of the data set (FID, KID, precision / recall /
density / coverage, class coverage, Inception score) and adds the test latents' metrics
(reconstruction BCE, fraction in the unit ball, 0-dim total persistence of test batches).
``floor=true`` trains nothing and scores real training images against the test split: the best
any generator can do on every metric.

Writes ``samples.npz`` (``samples``: N × 1 × 28 × 28 in [0, 1]), ``latents.npz`` (the codes of a
fixed set of ``scatter_size`` training images), ``history.json`` and flat metrics. With a W&B
sink, a grid of ``grid_size`` decoded prior samples (fixed codes) and, at latent size 2, the latent
scatter are logged after every epoch, as the original code did.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
from annotated_types import Ge
from omegaconf import DictConfig
from torch import Tensor
from torch.utils.data import TensorDataset

from topoexp import io
from topoexp.capabilities import DECODER, PRIOR, TRAINABLE
from topoexp.config.build import build
from topoexp.config.markers import ArgumentError
from topoexp.config.validate import ConfigError, from_argument_error, require
from topoexp.data.tensors import split_tensors
from topoexp.tasks.base import RunContext, TaskResult
from topoexp.tasks.composition import build_objective, check_composition, check_objective_metric

__all__ = ["GenerativeTask", "encode_images", "fixed_subset"]

log = logging.getLogger("topoexp")

#: What the task reports (``*``: any suffix), for the sweep objective.
METRICS = (
    "class_entropy",
    "classes_covered",
    "coverage",
    "death_sum_cutoff",
    "density",
    "epoch_s",
    "epochs",
    "eval_s",
    "fid",
    "fraction_in_ball",
    "inception_score",
    "kid_mean",
    "kid_std",
    "monitor_bce",
    "n_real",
    "n_samples",
    "precision",
    "recall",
    "reconstruction_bce",
    "total_persistence0*",
    "train_loss",
)

#: The seed of the training images every latent scatter shows (the paper's "same 512 images").
SCATTER_SEED = 0


def fixed_subset(n_total: int, n: int, seed: int) -> Tensor:
    """``min(n, n_total)`` indices of a seeded permutation of ``range(n_total)``."""
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


@torch.no_grad()
def encode_images(model: torch.nn.Module, images: Tensor, batch_size: int = 2048) -> Tensor:
    """Deterministic latent codes (the VAE's μ) of ``images`` in eval mode, on the CPU."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    codes = [model.encode(images[s : s + batch_size].to(device)).cpu() for s in
             range(0, len(images), batch_size)]  # fmt: skip
    model.train(was_training)
    return torch.cat(codes)


class GenerativeTask:
    """Train a generative autoencoder, sample its prior, score the samples (or the real floor).

    Args:
        floor: score ``n_samples`` real training images against the test split instead of a model.
        n_samples: generated (or floor) images scored against the whole test split.
        monitor_size: training images the trainer's per-epoch "validation" loss is computed on
            (monitoring only: no early stopping, nothing selected on it).
        train_subset, test_subset: use only the first that many images of a split (smoke tests).
        grid_size: decoded prior samples per W&B grid (96 as the original).
        scatter_size: training images of the latent scatter (512 as the paper's figures).
        classifier_dir: folder of the metric classifiers and their manifest; ``None``: the
            committed ones (``topoexp/assets``).
        epoch_media: log the sample grid and the latent scatter after every epoch (W&B only).
        save_samples: write ``samples.npz``.
    """

    job_type = "generative"

    def __init__(
        self,
        floor: bool = False,
        n_samples: Annotated[int, Ge(2)] = 10_000,
        monitor_size: Annotated[int, Ge(1)] = 1024,
        train_subset: Annotated[int, Ge(1)] | None = None,
        test_subset: Annotated[int, Ge(1)] | None = None,
        grid_size: Annotated[int, Ge(1)] = 96,
        scatter_size: Annotated[int, Ge(1)] = 512,
        classifier_dir: str | None = None,
        epoch_media: bool = True,
        save_samples: bool = True,
    ) -> None:
        self.floor = floor
        self.n_samples = n_samples
        self.monitor_size = monitor_size
        self.train_subset = train_subset
        self.test_subset = test_subset
        self.grid_size = grid_size
        self.scatter_size = scatter_size
        self.classifier_dir = classifier_dir
        self.epoch_media = epoch_media
        self.save_samples = save_samples

    # ------------------------------------------------------------------------------- checks

    def _assets(self) -> Path:
        from topoexp.models.classifier import ASSETS_DIR

        return Path(self.classifier_dir) if self.classifier_dir else ASSETS_DIR

    def check(self, cfg: DictConfig) -> None:
        """The data set, its classifier, the model kind and the protocol's trainer settings."""
        check_objective_metric(cfg, METRICS, "task=generative")
        from topoexp.evaluation.image_tensors import MNIST_LIKE
        from topoexp.models.classifier import MANIFEST, read_manifest

        name = cfg.dataset.name
        require(name in MNIST_LIKE, "dataset", f"needs one of {MNIST_LIKE}, got {name!r}")
        require(
            cfg.dataset.get("transform") == "corel",
            "dataset.transform",
            "the metric classifiers read 28 × 28 images in [0, 1]: set dataset.transform=corel "
            f"(ToTensor only), got {cfg.dataset.get('transform')!r}",
        )
        require(
            name in read_manifest(self._assets()),
            "task.classifier_dir",
            f"no metric classifier for {name!r} in {self._assets() / MANIFEST}",
        )
        if self.floor:
            return
        check_composition(cfg, "task=generative", needs={TRAINABLE, PRIOR, DECODER}, latents=False)
        trainer = build(cfg, "trainer")
        require(
            trainer.patience >= trainer.max_epochs and not trainer.reload_best,
            "trainer",
            "the protocol trains a fixed number of epochs and keeps the last: set "
            "trainer.patience ≥ trainer.max_epochs and trainer.reload_best=false",
        )

    # ------------------------------------------------------------------------------- the run

    def __call__(self, ctx: RunContext) -> TaskResult:
        from topoexp.models.classifier import load_classifier

        data = ctx.build("dataset", split_seed=ctx.seed)
        fit_on = "fit" if self.floor else ctx.cfg.trainer.fit_on  # fit: the official split
        fit_x, fit_y = split_tensors(data.split(fit_on))
        test_x, test_y = split_tensors(data.test)
        if self.train_subset is not None:
            fit_x, fit_y = fit_x[: self.train_subset], fit_y[: self.train_subset]
        if self.test_subset is not None:
            test_x, test_y = test_x[: self.test_subset], test_y[: self.test_subset]
        log.info("data %s: %d training, %d test images", data.name, len(fit_x), len(test_x))
        ctx.record.add_facts(data=data.name, split_sizes={"fit": len(fit_x), "test": len(test_x)})
        classifier = load_classifier(data.name, self._assets())
        if self.floor:
            return self._floor(ctx, fit_x, test_x, classifier)
        return self._generative(ctx, fit_x, fit_y, test_x, classifier)

    def _floor(self, ctx: RunContext, fit_x: Tensor, test_x: Tensor, classifier) -> TaskResult:
        from topoexp.evaluation.generative import evaluate_samples
        from topoexp.plotting.grids import grid_figure

        started = time.perf_counter()
        samples = fit_x[fixed_subset(len(fit_x), self.n_samples, ctx.seed)]
        metrics = evaluate_samples(samples, test_x, classifier, seed=ctx.seed)
        metrics["eval_s"] = time.perf_counter() - started
        self._write_samples(ctx, samples)
        title = f"real training images, {ctx.cfg.dataset.name}"
        return TaskResult(metrics, {"samples": grid_figure(samples[:64].numpy(), title)})

    def _generative(
        self, ctx: RunContext, fit_x: Tensor, fit_y: Tensor, test_x: Tensor, classifier
    ) -> TaskResult:
        from topoexp.evaluation.generative import evaluate_generator
        from topoexp.plotting.figures import latent_scatter, loss_curves
        from topoexp.plotting.grids import grid_figure

        trainer = ctx.build("trainer", seed=ctx.seed)
        model = ctx.build("model", input_shape=tuple(fit_x.shape[1:]))
        objective = build_objective(ctx.cfg, model)
        n_params = sum(p.numel() for p in model.parameters())
        log.info("model: %s parameters, prior %s\n%s", f"{n_params:,}", model.prior, model)
        ctx.record.add_facts(parameters=n_params, prior=model.prior)
        scatter_idx = fixed_subset(len(fit_x), self.scatter_size, SCATTER_SEED)
        scatter_x, scatter_y = fit_x[scatter_idx], fit_y[scatter_idx]

        history = self._fit(ctx, trainer, objective, fit_x, fit_y, scatter_x, scatter_y)
        model.cpu()  # the prior is sampled and decoded on the host, as on a CPU run
        classifier.to(trainer.device)  # the metric classifier's features on the run's device
        started = time.perf_counter()
        samples, metrics = evaluate_generator(
            model, test_x, classifier, n_samples=self.n_samples, seed=ctx.seed,
            latent_batch_size=trainer.batch_size,
        )  # fmt: skip
        metrics["eval_s"] = time.perf_counter() - started
        metrics |= _training_metrics(history)
        self._write_samples(ctx, samples)
        codes = encode_images(model, scatter_x)
        io.write_npz(
            ctx.output_dir / "latents.npz",
            latents=codes.numpy(),
            labels=scatter_y.numpy(),
            indices=scatter_idx.numpy(),
        )
        figures: dict[str, Any] = {
            "samples": grid_figure(samples[:64].numpy(), ctx.title),
            "losses": loss_curves(history, ctx.title),
        }
        if model.latent_dim == 2:
            figures["latents"] = latent_scatter(codes.numpy(), scatter_y.numpy(), ctx.title)
        return TaskResult(metrics, figures)

    def _fit(
        self,
        ctx: RunContext,
        trainer,
        model,
        fit_x: Tensor,
        fit_y: Tensor,
        scatter_x: Tensor,
        scatter_y: Tensor,
    ) -> list[dict[str, float]]:
        monitor = fixed_subset(len(fit_x), self.monitor_size, ctx.seed)
        try:
            trainer.check_sizes(len(fit_x), len(monitor))
        except ArgumentError as error:
            raise from_argument_error(error, "trainer") from None
        media = _EpochMedia(ctx, model.model, scatter_x, scatter_y, self.grid_size)
        use_media = self.epoch_media and media.enabled

        def on_epoch(record: dict[str, float], state) -> None:
            ctx.write_history(state.history)
            ctx.sink.log_epoch(record)
            if use_media:
                media.log(int(record["epoch"]) + 1)

        state = trainer.fit(
            model,
            fit_data=TensorDataset(fit_x, fit_y),
            validation=TensorDataset(fit_x[monitor], fit_y[monitor]),
            checkpoint_dir=ctx.output_dir / "checkpoints",
            on_epoch=on_epoch,
            on_step=ctx.log_step,
        )
        ctx.write_history(state.history)
        return state.history

    def _write_samples(self, ctx: RunContext, samples: Tensor) -> None:
        if self.save_samples:
            array = samples.detach().cpu().to(torch.float32)
            io.write_npz(ctx.output_dir / "samples.npz", samples=array.numpy())


def _training_metrics(history: list[dict[str, float]]) -> dict[str, float]:
    """Epochs run, mean seconds per epoch, last epoch's training loss and monitored BCE."""
    if not history:
        raise ConfigError("trainer.max_epochs", "no epoch was trained")
    last = history[-1]
    out = {
        "epochs": float(len(history)),
        "epoch_s": float(np.mean([r["time/epoch_s"] for r in history])),
        "train_loss": float(last["train/loss"]),
    }
    if "val/reconstruction_bce" in last:
        out["monitor_bce"] = float(last["val/reconstruction_bce"])
    return out


class _EpochMedia:
    """The original's per-epoch media: decoded samples of fixed prior codes, latent scatter."""

    def __init__(
        self, ctx: RunContext, model, scatter_x: Tensor, scatter_y: Tensor, grid_size: int
    ) -> None:
        self.sink = ctx.sink
        self.enabled = ctx.sink.takes_images  # sinks that keep no images get none made
        self.model, self.ctx = model, ctx
        self.scatter_x, self.scatter_y = scatter_x, scatter_y
        self.grid_size = grid_size

    def log(self, epoch: int) -> None:
        import matplotlib.pyplot as plt

        from topoexp.plotting.figures import latent_scatter
        from topoexp.plotting.grids import image_grid

        gen = torch.Generator().manual_seed(self.ctx.seed)  # the same codes every epoch
        samples = self.model.generate(self.grid_size, gen).cpu().numpy()
        images: dict[str, Any] = {"samples": image_grid(samples, ncol=12)}
        if self.model.latent_dim == 2:
            codes = encode_images(self.model, self.scatter_x).numpy()
            images["latent"] = latent_scatter(codes, self.scatter_y.numpy(), f"epoch {epoch}")
        self.sink.log_images(epoch, images)
        if "latent" in images:
            plt.close(images["latent"])
