"""The one-class task of COREL (spec §A.5): a backbone's encoder scores one class against the rest.

Flow: get a backbone, either trained here on ``dataset`` by the ``trainer`` (per-batch
reconstruction, connectivity and death-time statistics every ``trainer.log_every`` steps) or
loaded from ``backbone`` (a run directory or a checkpoint); encode the training and test splits
of ``eval_dataset`` (null: the same data set); score with the ``evaluator``
(:class:`~topoexp.evaluation.one_class_evaluator.OneClassEvaluator`: COREL's count scorer, OC-SVM
or KDE); and summarise the death times of the test latents per branch (the paper's Figure 6).
``features: pixels`` skips the backbone and scores raw pixels (the baselines' pixel variant).

Writes ``one_class.npz`` (``test_latents``, ``test_labels``, per ``m``: ``support_latents_m<m>``
of shape (runs, classes, m, latent dim), ``support_indices_m<m>`` (the drawn indices into the
training split) and ``auc_m<m>``), ``death_times.npz``, ``history.json``, ``steps.jsonl`` and the
checkpoints; metrics ``auc_m<m>``, ``auc_m<m>_class<c>`` and the death-time summary.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any, Literal

import numpy as np
import torch
from annotated_types import Ge
from omegaconf import DictConfig, OmegaConf

from topoexp import io
from topoexp.capabilities import (
    ENCODER,
    TRAINABLE,
    declared,
    option_name,
    require_capabilities,
)
from topoexp.config.build import build
from topoexp.config.markers import ArgumentError
from topoexp.config.validate import from_argument_error, require
from topoexp.data.base import DataSplits
from topoexp.evaluation.death_times import death_time_summary
from topoexp.evaluation.one_class import OneClassResult, one_class_arrays
from topoexp.evaluation.suite import Latents, score_all
from topoexp.tasks.backbones import encode, load_backbone, materialise, subset_of
from topoexp.tasks.base import RunContext, TaskResult
from topoexp.tasks.composition import (
    build_evaluators,
    build_objective,
    check_composition,
    check_objective_metric,
    evaluator_keys,
    further_metric_names,
    regulariser_keys,
)

__all__ = ["OneClassTask"]

log = logging.getLogger("topoexp")


class OneClassTask:
    """Train or load a backbone, then evaluate it one-class on ``eval_dataset`` (module docstring).

    Args:
        backbone: a run directory or checkpoint of a trained backbone; null trains one here.
        eval_dataset: the evaluated data set (``task/eval_dataset=<dataset option>``, a
            :class:`~topoexp.data.deferred.DeferredImageDataset`); null: the ``dataset``.
        features: ``latents`` of the backbone's encoder or raw ``pixels`` (baselines).
        death_time_batches: random batches (of ``death_time_batch_size`` test latents) for the
            per-branch death-time summary; 0 skips it.
        death_time_batch_size: points per batch (100, the training batch).
        save_latents: write ``one_class.npz``.
    """

    job_type = "one_class"

    def __init__(
        self,
        backbone: str | None = None,
        eval_dataset: Any = None,
        features: Literal["latents", "pixels"] = "latents",
        death_time_batches: Annotated[int, Ge(0)] = 1000,
        death_time_batch_size: Annotated[int, Ge(2)] = 100,
        save_latents: bool = True,
    ) -> None:
        if eval_dataset is not None and not callable(eval_dataset):
            raise ArgumentError("eval_dataset", "a deferred data set (task/eval_dataset=<name>)")
        self.backbone = backbone
        self.eval_dataset = eval_dataset
        self.features = features
        self.death_time_batches = death_time_batches
        self.death_time_batch_size = death_time_batch_size
        self.save_latents = save_latents

    # ------------------------------------------------------------------------------- checks

    def check(self, cfg: DictConfig) -> None:
        """Checks between the task, the model, the loss, the trainer and the evaluator."""
        evaluator = build(cfg, "evaluator")
        require(
            hasattr(evaluator, "evaluate"),
            "evaluator",
            f"the one_class task needs a one-class evaluator, got {cfg.evaluator._target_}",
        )
        own = evaluator.metric_names()
        produced = [*own, *further_metric_names(cfg, own), "death_time*", "time/*"]
        check_objective_metric(cfg, [*produced, "epochs"], "task=one_class")
        if self.features == "pixels":
            require(
                evaluator.scorer != "count",
                "evaluator.scorer",
                "the count scorer needs a backbone's branched latents, not pixels",
            )
            for key in evaluator_keys(cfg):  # the pixels are their own encoding, and no model
                needs = declared(OmegaConf.select(cfg, key), "needs")
                require_capabilities(needs, {ENCODER}, key, key, "task.features=pixels")
            return
        offered = check_composition(cfg, "task=one_class", needs={ENCODER})
        if self.backbone is not None:
            require(
                TRAINABLE in offered,
                "task.backbone",
                f"a backbone checkpoint holds a trained torch model; {option_name(cfg, 'model')} "
                "is fitted here",
            )
        elif regulariser_keys(cfg):
            trainer = build(cfg, "trainer")
            require(
                trainer.batch_size >= 2,
                "trainer.batch_size",
                f"a topological regulariser needs batches of ≥ 2 points, got {trainer.batch_size}",
            )

    # --------------------------------------------------------------------------------- flow

    def __call__(self, ctx: RunContext) -> TaskResult:
        evaluator = ctx.build("evaluator")
        started = time.perf_counter()
        eval_data = self._eval_data(ctx)
        train_set, test_set = materialise(eval_data.fit), materialise(eval_data.test)
        metrics: dict[str, float] = {"time/load_s": time.perf_counter() - started}
        sizes = {"eval_train": len(train_set), "eval_test": len(test_set)}
        log.info("evaluated data %s: %s, shape %s", eval_data.name, sizes, eval_data.input_shape)
        ctx.record.add_facts(eval_data=eval_data.name, eval_sizes=sizes)
        train_y, test_y = train_set.tensors[1].numpy(), test_set.tensors[1].numpy()
        further = build_evaluators(ctx.cfg)
        for key, scorer in {"evaluator": evaluator, **further}.items():
            try:  # before any training: one-vs-rest must be defined on these labels
                if hasattr(scorer, "check_classes"):
                    scorer.check_classes(train_y, test_y)
                if hasattr(scorer, "check_size"):
                    scorer.check_size(len(test_y))
            except ArgumentError as error:
                name = key if key == "evaluator" else f"evaluators.{key}"
                raise from_argument_error(error, name) from None
        figures: dict[str, Any] = {}
        n_branches, model = 1, None
        if self.features == "pixels":
            train_x = train_set.tensors[0].flatten(1).numpy()
            test_x = test_set.tensors[0].flatten(1).numpy()
        else:
            model, fit_metrics, history = self._backbone(ctx, eval_data)
            metrics |= fit_metrics
            n_branches = int(getattr(model, "n_branches", 1))
            started = time.perf_counter()
            train_x = encode(model, train_set.tensors[0])
            test_x = encode(model, test_set.tensors[0])
            metrics["time/encode_s"] = time.perf_counter() - started
            if history:
                from topoexp.plotting.figures import loss_curves

                figures["losses"] = loss_curves(history, ctx.title)
        started = time.perf_counter()
        results, auc_metrics = evaluator(train_x, train_y, test_x, test_y, n_branches)
        metrics["time/evaluate_s"] = time.perf_counter() - started
        metrics |= auc_metrics
        if further:
            latents = Latents(
                inputs=test_set.tensors[0].flatten(1).numpy(),
                latents=test_x,
                labels=test_y,
                train_latents=train_x,
                train_labels=train_y,
                n_branches=n_branches,
                title=ctx.title,
                model=model,
                dataset=eval_data.name,
            )
            values, more = score_all(further, latents, metrics)
            metrics |= values
            figures |= more
        ctx.sink.log_table("per_class_auc", *per_class_rows(results, eval_data.name))
        log.info(
            "AUC on %s: %s",
            eval_data.name,
            {k: round(v, 4) for k, v in auc_metrics.items() if "_class" not in k},
        )
        if self.save_latents:
            io.write_npz(
                ctx.output_dir / "one_class.npz", **one_class_arrays(results, test_x, test_y)
            )
        from topoexp.plotting.corel import auc_against_m, death_time_boxes

        figures["auc_vs_m"] = auc_against_m(results, f"{ctx.title} → {eval_data.name}")
        if self.features == "latents" and self.death_time_batches:
            summary = death_time_summary(
                test_x,
                n_branches=n_branches,
                batch_size=min(self.death_time_batch_size, len(test_x)),
                n_batches=self.death_time_batches,
                seed=ctx.seed,
            )
            io.write_npz(ctx.output_dir / "death_times.npz", per_batch=summary.per_batch)
            metrics |= summary.as_dict("death_time")
            figures["death_times"] = death_time_boxes(
                summary.per_batch, f"death times per branch, {eval_data.name} test"
            )
        return TaskResult(metrics, figures)

    # ------------------------------------------------------------------------------ helpers

    def _eval_data(self, ctx: RunContext) -> DataSplits:
        if self.eval_dataset is not None:
            return self.eval_dataset(split_seed=ctx.seed)
        return ctx.build("dataset", split_seed=ctx.seed)

    def _backbone(self, ctx: RunContext, eval_data: DataSplits):
        """The trained (or loaded, or fitted) model, its training metrics and history."""
        if self.backbone is not None or self.eval_dataset is None:
            data = eval_data  # a loaded backbone must take the evaluated samples' shape
        else:
            data = ctx.build("dataset", split_seed=ctx.seed)
        shape = tuple(data.input_shape)
        model = ctx.build("model", input_shape=shape, random_state=ctx.seed)
        if not isinstance(model, torch.nn.Module):  # a fitted estimator (PCA, UMAP, ...)
            started = time.perf_counter()
            fit = materialise(data.split(ctx.cfg.trainer.fit_on))
            model.fit(fit.tensors[0].flatten(1).numpy())
            return model, {"time/train_s": time.perf_counter() - started}, []
        n_params = sum(p.numel() for p in model.parameters())
        ctx.record.add_facts(parameters=n_params)
        if self.backbone is not None:
            file = load_backbone(model, self.backbone)
            log.info("backbone loaded from %s (%s parameters)", file, f"{n_params:,}")
            ctx.record.add_facts(backbone=str(file))
            return model.to(ctx.device), {}, []
        trainer = ctx.build("trainer", seed=ctx.seed)
        fit = materialise(data.fit)
        fit_on, validation = (
            subset_of(fit, data.split(trainer.fit_on)),
            subset_of(fit, data.validation),
        )
        try:
            trainer.check_sizes(len(fit_on), len(validation))
        except ArgumentError as error:
            raise from_argument_error(error, "trainer") from None
        objective = build_objective(ctx.cfg, model)
        log.info("training on %s (%d samples): %s", data.name, len(fit_on), objective)

        def on_epoch(record: dict[str, float], state) -> None:
            ctx.write_history(state.history)
            ctx.sink.log_epoch(record)

        started = time.perf_counter()
        state = trainer.fit(
            objective,
            fit_data=fit_on,
            validation=validation,
            checkpoint_dir=ctx.output_dir / "checkpoints",
            on_epoch=on_epoch,
            on_step=ctx.log_step,
        )
        ctx.write_history(state.history)
        seconds = time.perf_counter() - started
        epoch_s = [r["time/epoch_s"] for r in state.history]
        metrics = {
            "epochs": float(state.epoch),
            "time/train_s": seconds,
            "time/epoch_s": float(np.mean(epoch_s)) if epoch_s else float("nan"),
        }
        return model, metrics, state.history


def per_class_rows(
    results: dict[str, OneClassResult], data: str
) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of the per-class AUC table: one row per support size m and class."""
    rows = [
        [data, f"m={r.m}", int(c), float(auc), int(r.auc.shape[0])]
        for r in results.values()
        for c, auc in zip(r.classes, r.auc_per_class, strict=True)
    ]
    return ["data", "m", "class", "auc", "runs"], rows
