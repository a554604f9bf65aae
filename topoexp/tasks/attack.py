"""The attack task (topology-layer paper, section 3.3, Figures 12–13): fit a classifier, attack it.

The ``model`` is the target: ``topmodel`` (:class:`~topoexp.models.topmodel.TopModel`, 400
persistence features → MLP) is trained here on the official MNIST training split: the features of
the 60,000 training images are computed once and cached (``feature_cache``), then the scaler and
the MLP head are fitted on them (Adam, cosine schedule, seeded). ``mlp`` and ``cnn``
(:class:`~topoexp.models.classifier.PretrainedClassifier`) are the committed pixel classifiers
(``topoexp/assets``) and are only evaluated.

Then, with the attack budget of the config (:mod:`topoexp.evaluation.attacks`):

- ``n_attack`` test images (a permutation seeded by ``attack_seed``, the same images for every
  model) are each attacked towards a uniformly random other class (seeded the same way); the
  success rate is the share whose final prediction is the target (also reported among the images
  the model classified correctly before the attack);
- the grid of Figure 12: the first test image of each class attacked towards every other class;
- example pairs as Figure 13 (original, adversarial), successful attacks first.

Writes ``attacks.npz``, ``grid.npz``, ``history.json`` (TopModel's head training) and the figures
``grid.png`` and ``examples.png``; metrics: ``test_accuracy``, ``attack_success_rate``, ...
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from annotated_types import Ge, Gt
from omegaconf import DictConfig
from torch import Tensor

from topoexp import io
from topoexp.capabilities import CLASSIFIER
from topoexp.config.validate import require
from topoexp.tasks.base import RunContext, TaskResult
from topoexp.tasks.composition import check_composition, check_objective_metric

__all__ = ["AttackTask", "cached_features"]

log = logging.getLogger("topoexp")

#: What the task reports (``*``: any suffix), for the sweep objective.
METRICS = (
    "attack_*",
    "attacked_clean_accuracy",
    "grid_success_rate",
    "test_accuracy",
    "test_eval_s",
)

_FEATURE_VERSION = 1  # bump when the features' definition changes (invalidates the cache)


def _featuriser_key(featuriser: torch.nn.Module) -> dict:
    return {
        "version": _FEATURE_VERSION,
        "class": type(featuriser).__qualname__,
        "size": list(featuriser.size),
        "n_directions": featuriser.n_directions,
        "max_power": featuriser.max_power,
        "dims": list(featuriser.dims),
        "sublevel": featuriser.sublevel,
        "complex": featuriser.complex,
    }


def cached_features(
    featuriser: torch.nn.Module, images: Tensor, cache_dir: str | Path | None, batch: int = 2000
) -> tuple[Tensor, bool]:
    """Features of ``images`` (no gradient), read from / written to ``cache_dir`` when given.

    The cache file is named by the sha256 of the featuriser's settings and of the images' bytes,
    so a changed setting or different images never read a stale file. Returns the features and
    whether they came from the cache.
    """
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(json.dumps(_featuriser_key(featuriser), sort_keys=True).encode())
        digest.update(str(tuple(images.shape)).encode())
        digest.update(images.detach().cpu().contiguous().numpy().tobytes())
        path = Path(cache_dir) / f"features_{digest.hexdigest()[:24]}.npz"
        if path.is_file():
            with np.load(path) as z:
                return torch.from_numpy(z["features"]), True
    with torch.no_grad():
        parts = [featuriser(images[s : s + batch]) for s in range(0, len(images), batch)]
    feats = torch.cat(parts) if parts else images.new_zeros((0, featuriser.n_features))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        io.write_npz(path, features=feats.numpy())
    return feats, False


@torch.no_grad()
def _accuracy(model: torch.nn.Module, x: Tensor, y: Tensor, batch: int = 1000) -> float:
    model.eval()
    pred = torch.cat([model(x[s : s + batch]).argmax(1) for s in range(0, len(x), batch)])
    return float((pred == y).float().mean())


class AttackTask:
    """Fit (TopModel) or load (pixel MLP, CNN) a classifier, then attack it (module docstring).

    Args:
        n_attack: test images attacked towards a random other class.
        attack_seed: seed of the attacked images' selection and of their targets.
        eps: L∞ bound of the perturbation.
        step_size: gradient-sign step ``α``.
        steps: number of steps.
        clip_min, clip_max: the valid pixel range (the data are ToTensor images in [0, 1]).
        early_stop: stop changing an image once it is classified as its target.
        batch_size: images attacked together.
        grid: attack the 10 × 10 source × target grid (Figure 12).
        n_examples: adversarial pairs shown in ``examples.png``.
        fit_epochs, fit_lr, fit_batch_size, fit_weight_decay: TopModel's head training.
        train_subset, test_subset: only the first that many images of a split (smoke tests).
        feature_cache: folder of the cached training / test features; ``None``: no cache.
        num_threads: torch threads of this run (``None``: the harness's ``auto``, the cores
            divided by the parallel jobs); on a busy machine one thread avoids the stalls of
            OpenMP threads waiting for each other in the small ops of the head and the attack.
    """

    job_type = "attack"

    def __init__(
        self,
        n_attack: Annotated[int, Ge(1)] = 1000,
        attack_seed: int = 0,
        eps: Annotated[float, Gt(0)] = 0.3,
        step_size: Annotated[float, Gt(0)] = 0.01,
        steps: Annotated[int, Ge(1)] = 100,
        clip_min: float = 0.0,
        clip_max: float = 1.0,
        early_stop: bool = True,
        batch_size: Annotated[int, Ge(1)] = 500,
        grid: bool = True,
        n_examples: Annotated[int, Ge(0)] = 8,
        fit_epochs: Annotated[int, Ge(1)] = 30,
        fit_lr: Annotated[float, Gt(0)] = 1e-3,
        fit_batch_size: Annotated[int, Ge(1)] = 128,
        fit_weight_decay: Annotated[float, Ge(0)] = 1e-4,
        train_subset: Annotated[int, Ge(1)] | None = None,
        test_subset: Annotated[int, Ge(1)] | None = None,
        feature_cache: str | None = None,
        num_threads: Annotated[int, Ge(1)] | None = None,
    ) -> None:
        self.n_attack, self.attack_seed = n_attack, attack_seed
        self.eps, self.step_size, self.steps = eps, step_size, steps
        self.clip_min, self.clip_max, self.early_stop = clip_min, clip_max, early_stop
        self.batch_size, self.grid, self.n_examples = batch_size, grid, n_examples
        self.fit_epochs, self.fit_lr = fit_epochs, fit_lr
        self.fit_batch_size, self.fit_weight_decay = fit_batch_size, fit_weight_decay
        self.train_subset, self.test_subset = train_subset, test_subset
        self.feature_cache = feature_cache
        self.num_threads = num_threads

    @property
    def budget(self):
        from topoexp.evaluation.attacks import AttackBudget

        return AttackBudget(
            self.eps, self.step_size, self.steps, self.clip_min, self.clip_max, self.early_stop
        )

    def check(self, cfg: DictConfig) -> None:
        """MNIST-like data in [0, 1], a classifier model, no loss, no trainer, a valid budget."""
        check_objective_metric(cfg, METRICS, "task=attack")
        from topoexp.evaluation.image_tensors import MNIST_LIKE

        require(self.clip_min < self.clip_max, "task.clip_min", "must be below task.clip_max")
        name = cfg.dataset.name
        require(name in MNIST_LIKE, "dataset", f"needs one of {MNIST_LIKE}, got {name!r}")
        require(
            cfg.dataset.get("transform") == "corel",
            "dataset.transform",
            "the attacks clip to pixels in [0, 1]: set dataset.transform=corel (ToTensor only)"
            f", got {cfg.dataset.get('transform')!r}",
        )
        check_composition(cfg, "task=attack", needs={CLASSIFIER}, regularisers=False, latents=False)

    # ------------------------------------------------------------------------------ the run

    def __call__(self, ctx: RunContext) -> TaskResult:
        from topoexp.data.tensors import split_tensors
        from topoexp.models.topmodel import TopModel

        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
            ctx.record.add_facts(threads=self.num_threads)
        data = ctx.build("dataset", split_seed=ctx.seed)
        test_x, test_y = split_tensors(data.test)
        if self.test_subset is not None:
            test_x, test_y = test_x[: self.test_subset], test_y[: self.test_subset]
        model = ctx.build("model")
        metrics: dict[str, float] = {}
        facts: dict = {"data": data.name, "budget": self.budget.__dict__}
        if isinstance(model, TopModel):
            fit_x, fit_y = split_tensors(data.fit)
            if self.train_subset is not None:
                fit_x, fit_y = fit_x[: self.train_subset], fit_y[: self.train_subset]
            metrics |= self._fit_topmodel(ctx, model, fit_x, fit_y, test_x, test_y)
            facts["split_sizes"] = {"fit": len(fit_x), "test": len(test_x)}
        else:
            facts["split_sizes"] = {"test": len(test_x)}
            facts["classifier"] = model.name
        started = time.perf_counter()
        metrics["test_accuracy"] = _accuracy(model, test_x, test_y)
        metrics["test_eval_s"] = time.perf_counter() - started
        log.info("test accuracy %.4f", metrics["test_accuracy"])
        ctx.record.add_facts(**facts)

        metrics |= self._random_retargets(ctx, model, test_x, test_y)
        figures = {}
        if self.grid:
            grid_metrics, figures["grid"] = self._grid(ctx, model, test_x, test_y)
            metrics |= grid_metrics
        if self.n_examples:
            figures["examples"] = self._examples(ctx)
        return TaskResult(metrics, figures)

    def _fit_topmodel(self, ctx, model, fit_x, fit_y, test_x, test_y) -> dict[str, float]:
        from topoexp.models.topmodel import fit_head

        out = {}
        started = time.perf_counter()
        fit_f, hit = cached_features(model.features, fit_x, self.feature_cache)
        out["train_features_s"] = time.perf_counter() - started
        log.info("training features %s: %.1f s (%s)", tuple(fit_f.shape),
                 out["train_features_s"], "cache" if hit else "computed")  # fmt: skip
        started = time.perf_counter()
        test_f, hit = cached_features(model.features, test_x, self.feature_cache)
        out["test_features_s"] = time.perf_counter() - started
        log.info("test features %s: %.1f s (%s)", tuple(test_f.shape),
                 out["test_features_s"], "cache" if hit else "computed")  # fmt: skip
        started = time.perf_counter()
        history = fit_head(
            model,
            fit_f,
            fit_y,
            epochs=self.fit_epochs,
            lr=self.fit_lr,
            batch_size=self.fit_batch_size,
            weight_decay=self.fit_weight_decay,
            seed=ctx.seed,
            eval_feats=test_f,
            eval_labels=test_y,
        )
        out["fit_s"] = time.perf_counter() - started
        out["train_accuracy"] = history[-1]["train_accuracy"]
        ctx.write_history(history)
        io.save_torch(ctx.output_dir / "checkpoints" / "topmodel.pt", model.state_dict())
        return out

    def _random_retargets(self, ctx, model, test_x, test_y) -> dict[str, float]:
        from topoexp.evaluation.attacks import random_targets, targeted_attack

        gen = torch.Generator().manual_seed(self.attack_seed)
        n = min(self.n_attack, len(test_x))
        idx = torch.randperm(len(test_x), generator=gen)[:n]
        labels = test_y[idx]
        targets = random_targets(labels, 10, self.attack_seed)
        log.info("attacking %d test images: eps %g, step %g, %d steps", n, self.eps,
                 self.step_size, self.steps)  # fmt: skip
        result = targeted_attack(model, test_x[idx], targets, self.budget, self.batch_size)
        correct = result.clean_pred == labels
        ok = result.success
        delta = (result.adversarial - test_x[idx]).reshape(n, -1)
        io.write_npz(
            ctx.output_dir / "attacks.npz",
            indices=idx.numpy(),
            labels=labels.numpy(),
            targets=targets.numpy(),
            clean_pred=result.clean_pred.numpy(),
            final_pred=result.final_pred.numpy(),
            success=ok.numpy(),
            steps_to_success=result.steps_to_success.numpy(),
            originals=test_x[idx].numpy(),
            adversarial=result.adversarial.numpy(),
            success_after_step=np.asarray(result.history),
        )
        linf = delta.abs().amax(1)
        l2 = delta.norm(dim=1)
        out = {
            "attack_n": float(n),
            "attack_success_rate": result.success_rate,
            "attack_success_rate_correct": float(ok[correct].float().mean())
            if correct.any()
            else float("nan"),
            "attacked_clean_accuracy": float(correct.float().mean()),
            "attack_s": result.seconds,
        }
        if ok.any():
            out["attack_mean_steps_success"] = float(result.steps_to_success[ok].float().mean())
            out["attack_mean_linf_success"] = float(linf[ok].mean())
            out["attack_mean_l2_success"] = float(l2[ok].mean())
        log.info("attack success rate %.4f (%.1f s)", out["attack_success_rate"], result.seconds)
        return out

    def _grid(self, ctx, model, test_x, test_y):
        from topoexp.evaluation.attacks import pair_grid_targets, targeted_attack
        from topoexp.plotting.attacks import grid_figure

        classes = 10
        present = [int(c) for c in range(classes) if (test_y == c).any()]
        if len(present) < classes:
            log.warning("grid skipped: the test images hold only classes %s", present)
            return {}, None
        sources = torch.stack([(test_y == c).nonzero()[0, 0] for c in range(classes)])
        src, dst = pair_grid_targets(classes)
        result = targeted_attack(model, test_x[sources[src]], dst, self.budget, self.batch_size)
        shape = test_x.shape[1:]
        images = test_x[sources].unsqueeze(1).repeat(1, classes, *([1] * len(shape))).clone()
        success = torch.zeros(classes, classes, dtype=torch.bool)
        pred = torch.zeros(classes, classes, dtype=torch.int64)
        images[src, dst] = result.adversarial
        success[src, dst] = result.success
        pred[src, dst] = result.final_pred
        diag = torch.arange(classes)
        with torch.no_grad():
            pred[diag, diag] = model(test_x[sources]).argmax(1)
        io.write_npz(
            ctx.output_dir / "grid.npz",
            sources=sources.numpy(),
            images=images.numpy(),
            success=success.numpy(),
            pred=pred.numpy(),
        )
        title = f"{ctx.cfg.method}: attacks source (row) → target (column)"
        figure = grid_figure(images.numpy(), success.numpy(), title)
        return {"grid_success_rate": float(result.success.float().mean())}, figure

    def _examples(self, ctx):
        from topoexp.plotting.attacks import examples_figure

        with np.load(ctx.output_dir / "attacks.npz") as z:
            arrays = {k: z[k] for k in z.files}
        return examples_figure(arrays, self.n_examples, ctx.cfg.method)
