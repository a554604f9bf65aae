"""Generative quality in a classifier's feature space (spec `evaluation_anchors.md` §2).

Every metric compares generated images with real ones through a classifier trained on the same
data set (:mod:`topoexp.models.classifier`): its penultimate layer gives the features of FID, KID,
precision / recall and density / coverage (k = 5), its class probabilities the class coverage and
the classifier Inception score. The classifier runs once over each image set; FID and KID are
torchmetrics' ``FrechetInceptionDistance`` / ``KernelInceptionDistance`` with a pass-through
``feature`` module fed those features in float64 (equal to giving them the classifier's
:class:`~topoexp.models.classifier.ClassifierFeatures` module and the images, which a test checks).

Definitions (p(y|x) the classifier's softmax, p(y) its mean over the samples):

    FID  = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^{1/2})
    KID  = unbiased MMD² with the kernel (x·y / d + 1)³, mean (and std) over random subsets
    IS   = exp( mean_x KL(p(y|x) ‖ p(y)) )
    class_entropy   = −Σ_c h_c log h_c  (nats), h the histogram of predicted classes
    classes_covered = #{c : h_c ≥ 0.05}

:class:`GenerativeEvaluator` is the same scoring as an entry of the ``evaluators`` group
(``evaluators=[generative]``): any task's trained model with a decoder and a prior to sample.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import torch
from annotated_types import Ge
from torch import Tensor, nn

from topoexp.capabilities import DECODER, PRIOR
from topoexp.config.markers import ArgumentError
from topoexp.config.validate import ConfigError
from topoexp.evaluation.latents import latent_metrics
from topoexp.evaluation.prdc import prdc
from topoexp.models.classifier import SmallCNN

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from topoexp.evaluation.suite import Latents

__all__ = [
    "ClassifierOutputs",
    "GenerativeEvaluator",
    "class_coverage",
    "classifier_outputs",
    "evaluate_generator",
    "evaluate_samples",
    "fid_kid",
    "inception_score",
]

#: Share of the samples a class needs to count as covered.
CLASS_SHARE = 0.05


@dataclass(frozen=True)
class ClassifierOutputs:
    """Penultimate features and class logits of one image set, float64."""

    features: Tensor
    logits: Tensor


@torch.no_grad()
def classifier_outputs(
    classifier: SmallCNN, images: Tensor, batch_size: int = 2000
) -> ClassifierOutputs:
    """Run ``classifier`` once over ``images`` ((N, 1, 28, 28) or (N, 784), values in [0, 1])."""
    classifier.eval()
    device = next(classifier.parameters()).device
    feats, logits = [], []
    for s in range(0, len(images), batch_size):
        f = classifier.features(images[s : s + batch_size].to(device))
        feats.append(f.double().cpu())
        logits.append(classifier.head(f).double().cpu())
    return ClassifierOutputs(torch.cat(feats), torch.cat(logits))


class _PassThrough(nn.Module):
    """A torchmetrics ``feature`` module for features computed beforehand."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


def fid_kid(
    real: Tensor,
    fake: Tensor,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """``fid``, ``kid_mean``, ``kid_std`` of feature sets (N, d) and (M, d), float64.

    KID's random subsets come from torch's RNG seeded with ``seed`` (global state restored);
    ``kid_subset_size`` is capped at the smaller set size.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = real.to(torch.float64), fake.to(torch.float64)
    feature = _PassThrough(real.shape[1])
    fid = FrechetInceptionDistance(feature=feature, reset_real_features=True).set_dtype(
        torch.float64
    )
    size = min(kid_subset_size, len(real), len(fake))
    with warnings.catch_warnings():  # that KID keeps every feature: intended, they are small
        warnings.filterwarnings("ignore", message=".*will save all extracted features")
        kid = KernelInceptionDistance(feature=feature, subsets=kid_subsets, subset_size=size)
    for metric in (fid, kid):
        metric.update(real, real=True)
        metric.update(fake, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid_mean": float(kid_mean), "kid_std": float(kid_std)}


def inception_score(logits: Tensor) -> float:
    """exp(mean_x KL(p(y|x) ‖ p(y))) of class logits (N, C)."""
    log_p = torch.log_softmax(logits.to(torch.float64), dim=1)
    log_marginal = torch.logsumexp(log_p, dim=0) - math.log(len(log_p))
    p = log_p.exp()
    kl = torch.where(p > 0, p * (log_p - log_marginal), 0.0).sum(dim=1)  # 0 log 0 = 0
    return float(kl.mean().exp())


def class_coverage(logits: Tensor, share: float = CLASS_SHARE) -> dict[str, float]:
    """Entropy (nats) of the predicted-class histogram and the classes holding ≥ ``share``."""
    counts = torch.bincount(logits.argmax(dim=1), minlength=logits.shape[1]).double()
    h = counts / counts.sum()
    entropy = -(h[h > 0] * h[h > 0].log()).sum()
    return {"class_entropy": float(entropy), "classes_covered": float((h >= share).sum())}


def evaluate_samples(
    samples: Tensor | ClassifierOutputs,
    real: Tensor | ClassifierOutputs,
    classifier: SmallCNN | None = None,
    *,
    k: int = 5,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Every sample-quality metric of ``samples`` against ``real``, as a flat dict of floats.

    ``samples`` and ``real`` are images in [0, 1] (then ``classifier`` is required) or their
    :class:`ClassifierOutputs` (to reuse the real set's features across models). Keys: ``fid``,
    ``kid_mean``, ``kid_std``, ``precision``, ``recall``, ``density``, ``coverage``,
    ``inception_score``, ``class_entropy``, ``classes_covered``, ``n_samples``, ``n_real``.
    """
    outs = []
    for name, x in (("samples", samples), ("real", real)):
        if not isinstance(x, ClassifierOutputs):
            if classifier is None:
                raise ValueError(
                    f"{name} are images: pass the classifier that defines the features"
                )
            x = classifier_outputs(classifier, x)
        outs.append(x)
    fake_out, real_out = outs
    metrics = fid_kid(real_out.features, fake_out.features, kid_subsets, kid_subset_size, seed)
    metrics.update(prdc(real_out.features, fake_out.features, k))
    metrics["inception_score"] = inception_score(fake_out.logits)
    metrics.update(class_coverage(fake_out.logits))
    metrics["n_samples"] = float(len(fake_out.features))
    metrics["n_real"] = float(len(real_out.features))
    return metrics


def evaluate_generator(
    model: nn.Module,
    test_images: Tensor,
    classifier: SmallCNN,
    *,
    n_samples: int = 10_000,
    seed: int = 0,
    real: ClassifierOutputs | None = None,
    latent_batch_size: int = 128,
) -> tuple[Tensor, dict[str, float]]:
    """Sample a generative autoencoder's prior and score it: ``(samples, metrics)``.

    ``model`` provides ``generate(n, generator)`` (decoded prior samples in [0, 1]) and
    ``forward(x) -> (x_hat, z)``. The samples are scored against ``test_images`` (or their
    precomputed classifier outputs ``real``) by :func:`evaluate_samples`; the test set's
    :func:`~topoexp.evaluation.latents.latent_metrics` (batches of ``latent_batch_size``) are
    added to the same flat dict.
    """
    samples = model.generate(n_samples, torch.Generator().manual_seed(seed))
    if real is None:
        real = classifier_outputs(classifier, test_images)
    metrics = evaluate_samples(samples, real, classifier, seed=seed)
    metrics.update(latent_metrics(model, test_images, batch_size=latent_batch_size))
    return samples, metrics


#: What :func:`evaluate_generator` reports, for the sweep objective.
GENERATOR_METRICS = (
    "fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage",
    "inception_score", "class_entropy", "classes_covered", "n_samples", "n_real",
    "reconstruction_bce", "fraction_in_ball", "total_persistence0", "total_persistence0_std",
    "death_sum_cutoff",
)  # fmt: skip
#: Neighbours of precision / recall / density / coverage: each image set needs more.
PRDC_K = 5


class GenerativeEvaluator:
    """The generative metrics of a run's trained model, as an ``evaluators`` entry.

    Decodes ``n_samples`` codes of the model's prior and scores them against the evaluated split's
    images in the feature space of the data set's metric classifier (:func:`evaluate_generator`:
    FID, KID, precision / recall / density / coverage, class coverage, Inception score), with the
    evaluated images' latent metrics (reconstruction BCE, the unit ball, 0-dim total persistence
    of batches of ``latent_batch_size``). The data set needs a classifier (MNIST, Fashion-MNIST)
    and the images the generative task reads (``dataset.transform=corel``: 28 × 28 in [0, 1]).

    Args:
        n_samples: decoded prior samples (the generative task: 10,000).
        classifier_dir: folder of the metric classifiers and their manifest; ``None``: the
            committed ones (``topoexp/assets``).
        latent_batch_size: batch size of the latents' total persistence.
        seed: seed of the prior's codes and of KID's subsets.
    """

    needs: ClassVar[frozenset[str]] = frozenset({DECODER, PRIOR})

    def __init__(
        self,
        n_samples: Annotated[int, Ge(PRDC_K + 1)] = 10_000,
        classifier_dir: str | None = None,
        latent_batch_size: Annotated[int, Ge(2)] = 128,
        seed: int = 0,
    ) -> None:
        if n_samples <= PRDC_K:
            raise ArgumentError("n_samples", f"must be > {PRDC_K} (the PRDC neighbours)")
        if latent_batch_size < 2:
            raise ArgumentError("latent_batch_size", f"must be ≥ 2, got {latent_batch_size}")
        self.n_samples, self.classifier_dir = n_samples, classifier_dir
        self.latent_batch_size, self.seed = latent_batch_size, seed

    def _assets(self) -> Path:
        from topoexp.models.classifier import ASSETS_DIR

        return Path(self.classifier_dir) if self.classifier_dir else ASSETS_DIR

    def check(self, cfg: DictConfig, key: str) -> None:
        """Before any data: a metric classifier for the data set, and its images."""
        from topoexp.models.classifier import MANIFEST, read_manifest

        name = cfg.dataset.get("name") if cfg.get("dataset") is not None else None
        if name not in read_manifest(self._assets()):
            raise ConfigError(
                f"{key}.classifier_dir",
                f"{key} scores samples in the feature space of a classifier of the data set; "
                f"no classifier for dataset={name} in {self._assets() / MANIFEST}",
            )
        if cfg.dataset.get("transform") != "corel":
            raise ConfigError(
                "dataset.transform",
                f"{key}'s classifiers read 28 × 28 images in [0, 1]: set dataset.transform=corel "
                f"(ToTensor only), got {cfg.dataset.get('transform')!r}",
            )

    def check_size(self, n_points: int) -> None:
        """Before training: enough evaluated images for the neighbours and one latent batch."""
        if n_points <= PRDC_K:
            raise ConfigError(
                "evaluators.generative",
                f"precision / recall need more than {PRDC_K} evaluated images, got {n_points}",
            )
        if n_points < self.latent_batch_size:
            raise ArgumentError(
                "latent_batch_size",
                f"{self.latent_batch_size} is more than the {n_points} evaluated images",
            )

    def metric_names(self) -> list[str]:
        """The metrics this evaluator reports, for the sweep objective."""
        return list(GENERATOR_METRICS)

    def score(self, latents: Latents) -> tuple[dict[str, float], dict[str, Any]]:
        """Sample the run's model and score the samples against the evaluated images."""
        from topoexp.models.classifier import load_classifier
        from topoexp.plotting.grids import grid_figure

        model = latents.model
        if model is None or not hasattr(model, "generate"):
            raise ConfigError("evaluators.generative", "needs the run's model to sample from")
        classifier = load_classifier(latents.dataset, self._assets())
        device = next(model.parameters()).device
        images = torch.as_tensor(latents.inputs, dtype=torch.float32).to(device)
        samples, metrics = evaluate_generator(
            model, images, classifier, n_samples=self.n_samples, seed=self.seed,
            latent_batch_size=self.latent_batch_size,
        )  # fmt: skip
        grid = samples[:64].detach().cpu().numpy()
        return metrics, {"samples": grid_figure(grid, latents.title)}
