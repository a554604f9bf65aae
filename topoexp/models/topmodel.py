"""TopModel: a classifier that sees an image only through its persistence features.

``images → DirectionalFeatures (400 values) → standardise → MLP → logits``, the topology-layer
paper's "TopModel" (section 3.3). The standardisation (mean and standard deviation of the training
features, kept as buffers) and the MLP are differentiable, and so are the features in the pixels,
so gradient attacks reach the image through the persistence diagrams.

Training touches only the head: the features of the training images are computed once (and cached
by the task), then :func:`fit_head` fits the scaler and trains the MLP on them with Adam, through
the training engine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, ClassVar

import torch
from annotated_types import Ge, Lt
from torch import Tensor, nn

from topoexp.capabilities import CLASSIFIER, IMAGES, TRAINABLE
from topoexp.config.markers import ArgumentError
from topoexp.topology.directional import DirectionalFeatures
from topoexp.training.batches import DeviceData, MemoryBatches
from topoexp.training.callbacks import Callback
from topoexp.training.engine import Engine
from topoexp.training.schedule import Epochs
from topoexp.training.steps import ClassifierStep

__all__ = ["TopModel", "fit_head"]

log = logging.getLogger("topoexp")


class TopModel(nn.Module):
    """Persistence features → standardisation → MLP (ReLU, optional dropout) → class logits.

    Args:
        features: the featuriser (a nested component: ``model.features.*``).
        hidden: widths of the hidden layers of the head.
        n_classes: number of classes.
        dropout: dropout before each hidden layer's linear map (training only).
    """

    offers: ClassVar[frozenset[str]] = frozenset({TRAINABLE, CLASSIFIER})
    needs_data: ClassVar[frozenset[str]] = frozenset({IMAGES})

    def __init__(
        self,
        features: DirectionalFeatures,
        hidden: Sequence[int] = (256, 256),
        n_classes: Annotated[int, Ge(2)] = 10,
        dropout: Annotated[float, Ge(0), Lt(1)] = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(features, DirectionalFeatures):
            raise ArgumentError("features", f"a DirectionalFeatures, got {type(features).__name__}")
        hidden = [int(h) for h in hidden]
        if any(h < 1 for h in hidden):
            raise ArgumentError("hidden", f"positive widths, got {hidden}")
        self.features = features
        self.hidden, self.n_classes, self.dropout = hidden, int(n_classes), float(dropout)
        n_in = features.n_features
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("scale", torch.ones(n_in))
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Dropout(self.dropout), nn.Linear(n_in, width), nn.ReLU()]
            n_in = width
        layers.append(nn.Linear(n_in, self.n_classes))
        self.head = nn.Sequential(*layers)

    def fit_scaler(self, feats: Tensor) -> None:
        """Set the standardisation to the mean and std of ``feats`` (std 0 → 1)."""
        mean = feats.mean(0)
        std = feats.std(0, unbiased=False)
        self.mean.copy_(mean)
        self.scale.copy_(torch.where(std > 0, std, torch.ones_like(std)))

    def logits_from_features(self, feats: Tensor) -> Tensor:
        """Class logits of precomputed features ``(N, n_features)``."""
        dtype = self.mean.dtype
        return self.head((feats.to(dtype) - self.mean) / self.scale)

    def forward(self, images: Tensor) -> Tensor:
        return self.logits_from_features(self.features(images))


def fit_head(
    model: TopModel,
    feats: Tensor,
    labels: Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float = 0.0,
    seed: int = 0,
    eval_feats: Tensor | None = None,
    eval_labels: Tensor | None = None,
) -> list[dict[str, float]]:
    """Fit the scaler on ``feats`` and train the head with Adam and cross-entropy (seeded).

    Returns one record per epoch (mean training loss, training accuracy, and the accuracy on
    ``eval_feats`` when given: monitoring only, nothing is selected on it).
    """
    if len(feats) != len(labels):
        raise ValueError(f"{len(feats)} feature rows but {len(labels)} labels")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.fit_scaler(feats)
    opt = torch.optim.Adam(model.head.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    n = len(feats)
    history: list[dict[str, float]] = []

    def summary(results: list) -> dict[str, float]:
        total, correct = 0.0, 0
        for value, parts in results:
            total += value * parts["n"]
            correct += int(parts["correct"])
        return {"loss": total / n, "train_accuracy": correct / n}

    class Monitor(Callback):
        def on_epoch_end(self, engine: Engine, record: dict[str, float]) -> None:
            model.eval()
            if eval_feats is not None and eval_labels is not None:
                with torch.no_grad():
                    pred = model.logits_from_features(eval_feats).argmax(1)
                record["eval_accuracy"] = float((pred == eval_labels).float().mean())

        def on_record(self, engine: Engine, record: dict[str, float]) -> None:
            row = {"epoch": int(record["epoch"]) + 1}
            row |= {k: v for k, v in record.items() if k != "epoch"}
            row["seconds"] = row.pop("time/epoch_s")
            history.append(row)
            log.info("TopModel head epoch %d/%d: %s", row["epoch"], epochs, row)

    step = ClassifierStep(model.logits_from_features, opt, {"model": model})
    batches = MemoryBatches(DeviceData(feats, lambda v: v), batch_size, True, False, gen,
                            labels=labels, loader_draw=False)  # fmt: skip
    engine = Engine(step, Epochs(epochs), batches, [Monitor()], schedulers={"lr": sched},
                    summary=summary)  # fmt: skip
    engine.fit()
    model.eval()
    return history
