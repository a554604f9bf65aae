"""Metric classifiers: architecture, the sha256-verified loader, and the committed weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from topoexp.models.classifier import (
    ASSETS_DIR,
    ClassifierFeatures,
    SmallCNN,
    file_sha256,
    load_classifier,
    read_manifest,
)


def test_features_are_the_penultimate_layer():
    clf = SmallCNN(channels=(2, 4), hidden=8)
    x = torch.rand(5, 1, 28, 28)
    f = clf.features(x)
    assert f.shape == (5, 8) and (f >= 0).all()  # after the ReLU
    torch.testing.assert_close(clf(x), clf.head(f))
    torch.testing.assert_close(clf(x.reshape(5, 784)), clf(x))  # flat input accepted
    assert ClassifierFeatures(clf).num_features == 8


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"channels": (4,)}, "channels"), ({"hidden": 0}, "hidden")]
)
def test_invalid_architecture_is_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SmallCNN(**kwargs)


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    clf = SmallCNN(channels=(2, 4), hidden=8)
    torch.save(clf.state_dict(), tmp_path / "toy_cnn.pt")
    manifest = {
        "toy": {
            "file": "toy_cnn.pt",
            "sha256": file_sha256(tmp_path / "toy_cnn.pt"),
            "architecture": clf.config,
            "command": "python scripts/train_classifier.py --dataset toy",
        }
    }
    (tmp_path / "classifiers.json").write_text(json.dumps(manifest))
    return tmp_path


def test_loader_restores_the_weights(assets):
    clf = load_classifier("toy", assets)
    torch.manual_seed(0)
    ref = SmallCNN(channels=(2, 4), hidden=8)
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(clf(x), ref(x))
    assert not clf.training and not any(p.requires_grad for p in clf.parameters())


def test_loader_rejects_a_changed_file_naming_it_and_the_fix(assets):
    with open(assets / "toy_cnn.pt", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match=r"toy_cnn\.pt.*sha256.*train_classifier\.py"):
        load_classifier("toy", assets)


def test_loader_reports_a_missing_file_and_an_unknown_data_set(assets):
    (assets / "toy_cnn.pt").unlink()
    with pytest.raises(FileNotFoundError, match=r"toy_cnn\.pt"):
        load_classifier("toy", assets)
    with pytest.raises(KeyError, match=r"train_classifier\.py --dataset cifar"):
        load_classifier("cifar", assets)


@pytest.mark.parametrize("dataset", ["mnist", "fmnist"])
def test_committed_weights_match_their_manifest(dataset):
    entry = read_manifest(ASSETS_DIR)[dataset]
    path = ASSETS_DIR / entry["file"]
    assert file_sha256(path) == entry["sha256"]
    assert path.stat().st_size < 1_000_000


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize(("dataset", "minimum"), [("mnist", 0.99), ("fmnist", 0.90)])
def test_committed_classifier_accuracy(dataset, minimum, shared_dir):
    from topoexp.evaluation.image_tensors import image_tensors

    root = shared_dir / "datasets"
    try:
        x, y = image_tensors(dataset, root, "test")
    except FileNotFoundError:
        pytest.skip(f"{dataset} not found under {root}")
    clf = load_classifier(dataset)
    with torch.no_grad():
        pred = torch.cat([clf(x[i : i + 2000]).argmax(1) for i in range(0, len(x), 2000)])
    accuracy = float((pred == y).double().mean())
    assert accuracy >= minimum
    assert accuracy == pytest.approx(read_manifest()[dataset]["test_accuracy"], abs=1e-9)
