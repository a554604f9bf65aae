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
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from topoexp.evaluation.latents import latent_metrics
from topoexp.evaluation.prdc import prdc
from topoexp.models.classifier import SmallCNN

__all__ = [
    "ClassifierOutputs",
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
