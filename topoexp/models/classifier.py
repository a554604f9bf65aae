"""Small CNN classifiers whose penultimate layer defines the generative metrics' feature space.

The trained MNIST and Fashion-MNIST weights are committed in ``topoexp/assets/`` with their sha256
in ``classifiers.json``; :func:`load_classifier` refuses a file whose hash differs, so every user's
FID, KID, precision/recall and Inception score are computed with the same features. The weights are
produced by ``scripts/train_classifier.py`` (the command is recorded in the manifest).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from topoexp.capabilities import CLASSIFIER
from topoexp.config.markers import ArgumentError

__all__ = [
    "ASSETS_DIR",
    "MANIFEST",
    "ClassifierFeatures",
    "PixelMLP",
    "PretrainedClassifier",
    "SmallCNN",
    "file_sha256",
    "load_classifier",
    "read_manifest",
]

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
MANIFEST = "classifiers.json"


class SmallCNN(nn.Module):
    """``[conv3×3 → ReLU → maxpool2] × 2 → Linear → ReLU (features) → Linear (logits)``.

    Input: images ``(N, 1, 28, 28)`` (or flat ``(N, 784)``) with values in [0, 1], as decoded by
    the generative models. ``features(x)`` is the penultimate layer (``num_features`` values).
    """

    def __init__(
        self,
        n_classes: int = 10,
        channels: Sequence[int] = (32, 64),
        hidden: int = 64,
        image_size: int = 28,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) != 2 or min(channels) < 1:
            raise ValueError(f"channels must be two positive ints, got {channels}")
        if hidden < 1 or n_classes < 2:
            raise ValueError(f"hidden must be ≥ 1 and n_classes ≥ 2, got {hidden}, {n_classes}")
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {image_size}")
        c1, c2 = channels
        self.image_size = int(image_size)
        self.trunk = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(c2 * (image_size // 4) ** 2, hidden),
            nn.ReLU(),
        )
        self.head = nn.Linear(hidden, n_classes)
        self.num_features = int(hidden)
        self.n_classes = int(n_classes)
        self.config = {"n_classes": n_classes, "channels": list(channels), "hidden": hidden}

    def _as_images(self, x: Tensor) -> Tensor:
        s = self.image_size
        return x.reshape(-1, 1, s, s).to(self.head.weight.dtype)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer activations ``(N, num_features)``."""
        return self.trunk(self._as_images(x))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``(N, n_classes)``."""
        return self.head(self.features(x))


class PixelMLP(nn.Module):
    """``Flatten → [Linear → ReLU] × len(hidden) → Linear``: a fully connected classifier on pixels.

    Input: images ``(N, 1, 28, 28)`` or flat ``(N, 784)`` in [0, 1]. ``features(x)`` is the last
    hidden layer. The MLP target of the topological adversarial attacks.
    """

    def __init__(
        self, n_classes: int = 10, hidden: Sequence[int] = (256, 256), image_size: int = 28
    ) -> None:
        super().__init__()
        hidden = [int(h) for h in hidden]
        if not hidden or min(hidden) < 1 or n_classes < 2:
            raise ValueError(f"hidden must be positive widths and n_classes ≥ 2, got {hidden}")
        layers: list[nn.Module] = [nn.Flatten()]
        n_in = image_size * image_size
        for width in hidden:
            layers += [nn.Linear(n_in, width), nn.ReLU()]
            n_in = width
        self.image_size = int(image_size)
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(n_in, n_classes)
        self.num_features = hidden[-1]
        self.n_classes = int(n_classes)
        self.config = {"n_classes": n_classes, "hidden": hidden}

    def features(self, x: Tensor) -> Tensor:
        """Last hidden layer ``(N, num_features)``."""
        s = self.image_size
        return self.trunk(x.reshape(-1, 1, s, s).to(self.head.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``(N, n_classes)``."""
        return self.head(self.features(x))


#: Classifier classes by the manifest's ``arch`` (absent: the CNN).
ARCHITECTURES: dict[str, type[nn.Module]] = {"cnn": SmallCNN, "mlp": PixelMLP}


class ClassifierFeatures(nn.Module):
    """The penultimate layer of a classifier as a feature module (``num_features`` attribute).

    This is the shape torchmetrics' FID/KID expect from a custom ``feature`` module.
    """

    def __init__(self, classifier: SmallCNN) -> None:
        super().__init__()
        self.classifier = classifier
        self.num_features = classifier.num_features

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier.features(x)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(assets_dir: str | Path = ASSETS_DIR) -> dict[str, Any]:
    """The manifest ``classifiers.json``: data set name → file, sha256, architecture, accuracy."""
    path = Path(assets_dir) / MANIFEST
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def load_classifier(dataset: str, assets_dir: str | Path = ASSETS_DIR) -> nn.Module:
    """The committed classifier ``dataset`` (``mnist``, ``fmnist``, ``mnist_mlp``), in eval mode.

    Raises:
        KeyError: no entry for ``dataset`` in the manifest.
        FileNotFoundError: the weights file is missing.
        ValueError: the file's sha256 differs from the manifest's.
    """
    assets_dir = Path(assets_dir)
    manifest = read_manifest(assets_dir)
    if dataset not in manifest:
        known = ", ".join(sorted(manifest)) or "none"
        raise KeyError(
            f"no classifier for data set {dataset!r} in {assets_dir / MANIFEST} (known: {known}); "
            f"train one with: python scripts/train_classifier.py --dataset {dataset} "
            f"--root DATA --out {assets_dir}/{dataset}_cnn.pt"
        )
    entry = manifest[dataset]
    path = assets_dir / entry["file"]
    fix = (
        f"restore the committed file (git checkout -- {path.name} in {assets_dir}) or retrain it "
        f"with: {entry.get('command', 'scripts/train_classifier.py')}"
    )
    if not path.is_file():
        raise FileNotFoundError(f"classifier weights {path} not found; {fix}")
    actual = file_sha256(path)
    if actual != entry["sha256"]:
        raise ValueError(
            f"classifier weights {path} have sha256 {actual}, but {MANIFEST} expects "
            f"{entry['sha256']}: the file is not the committed one, so metrics computed with it "
            f"would not be comparable; {fix}"
        )
    model = ARCHITECTURES[entry.get("arch", "cnn")](**entry["architecture"])
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval().requires_grad_(False)


class PretrainedClassifier(nn.Module):
    """A committed classifier (``topoexp/assets``, sha256-checked) as a config component.

    Args:
        name: its manifest entry: ``mnist`` (the CNN), ``mnist_mlp`` (the pixel MLP), ``fmnist``.
        classifier_dir: folder of the weights and their manifest; ``None``: the committed ones.
    """

    offers: ClassVar[frozenset[str]] = frozenset({CLASSIFIER})

    def __init__(self, name: str = "mnist", classifier_dir: str | None = None) -> None:
        super().__init__()
        self.name, self.classifier_dir = name, classifier_dir
        try:
            self.net = load_classifier(name, classifier_dir or ASSETS_DIR)
        except KeyError as err:
            raise ArgumentError("name", str(err.args[0])) from err
        self.n_classes = self.net.n_classes

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
