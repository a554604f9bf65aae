"""Image data sets: real MNIST / Fashion-MNIST files, and small files in the genuine on-disk
formats of CIFAR-10/100, Tiny-ImageNet and ImageNet written into ``tmp_path``."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import compose
from topoexp.config.build import build
from topoexp.data import images
from topoexp.data.images import IMAGE_DATASETS, SOURCES, build_transform, load_image_dataset

#: CIFAR-100 fine label (alphabetical) → coarse superclass, as in the official pickles.
FINE_TO_COARSE = np.array(
    [4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
     6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
     5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
     10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
     16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13]
)  # fmt: skip


# ------------------------------------------------------------------------ MNIST / Fashion-MNIST

MNIST_LIKE = {
    # name: (torchvision folder, first train label, first test label, train class counts)
    "mnist": ("MNIST", 5, 7, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]),
    "fmnist": ("FashionMNIST", 9, 9, [6000] * 10),
}


@pytest.fixture(scope="module")
def mnist_like(datasets_root: Path):
    return {name: load_image_dataset(name, datasets_root) for name in MNIST_LIKE}


@pytest.mark.data
@pytest.mark.parametrize("name", list(MNIST_LIKE))
def test_mnist_like_sizes_labels_and_range(name, mnist_like):
    ds = mnist_like[name]
    _, first_train, first_test, counts = MNIST_LIKE[name]
    assert (len(ds.fit), len(ds.test)) == (60000, 10000)
    assert (len(ds.train), len(ds.validation)) == (51000, 9000)
    assert ds.input_shape == (1, 28, 28)
    assert np.bincount(ds.fit.targets.numpy()).tolist() == counts
    assert ds.fit[0][1] == first_train and ds.test[0][1] == first_test
    x = torch.stack([ds.fit[i][0] for i in range(64)])
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32
    assert x.min().item() == -1.0 and x.max().item() == 1.0


@pytest.mark.data
@pytest.mark.parametrize("name", list(MNIST_LIKE))
def test_mnist_like_pixel_matches_raw_idx_bytes(name, mnist_like, datasets_root):
    raw = datasets_root / MNIST_LIKE[name][0] / "raw"
    index, row, col = 123, 14, 9
    with open(raw / "t10k-images-idx3-ubyte", "rb") as f:
        f.seek(16 + index * 28 * 28 + row * 28 + col)
        byte = f.read(1)[0]
    with open(raw / "t10k-labels-idx1-ubyte", "rb") as f:
        f.seek(8 + index)
        label = f.read(1)[0]
    x, y = mnist_like[name].test[index]
    assert x[0, row, col].item() == pytest.approx((byte / 255 - 0.5) / 0.5, abs=1e-6)
    assert y == label


@pytest.mark.data
def test_mnist_split_is_seeded(datasets_root, mnist_like):
    again = load_image_dataset("mnist", datasets_root, split_seed=0)
    other = load_image_dataset("mnist", datasets_root, split_seed=1)
    base = mnist_like["mnist"]
    assert base.train.indices == again.train.indices
    assert base.validation.indices == again.validation.indices
    assert base.train.indices != other.train.indices
    assert sorted(base.train.indices + base.validation.indices) == list(range(60000))


# ---------------------------------------------------------------------------- CIFAR fixtures


def _pickle(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def _images(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` CIFAR rows: uint8 (n, 3072), the 1024 red, green, then blue values of a 32×32 image."""
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)


def write_cifar10(root: Path, per_batch: int = 4, n_test: int = 6) -> dict:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_x, train_y = [], []
    for b in range(1, 6):
        x, y = _images(rng, per_batch), rng.integers(0, 10, per_batch).tolist()
        _pickle(
            folder / f"data_batch_{b}",
            {
                "batch_label": f"training batch {b} of 5",
                "labels": y,
                "data": x,
                "filenames": [f"img_{b}_{i}.png" for i in range(per_batch)],
            },
        )
        train_x.append(x)
        train_y += y
    test_x, test_y = _images(rng, n_test), rng.integers(0, 10, n_test).tolist()
    _pickle(
        folder / "test_batch",
        {"batch_label": "testing batch 1 of 1", "labels": test_y, "data": test_x,
         "filenames": [f"test_{i}.png" for i in range(n_test)]},
    )  # fmt: skip
    names = ["airplane", "automobile", "bird", "cat", "deer"]
    names += ["dog", "frog", "horse", "ship", "truck"]
    _pickle(
        folder / "batches.meta",
        {"num_cases_per_batch": per_batch, "label_names": names, "num_vis": 3072},
    )
    return {"train_x": np.concatenate(train_x), "train_y": train_y, "test_y": test_y}


def _cifar100_split(path: Path, rng: np.random.Generator, n: int, label: str) -> dict:
    fine = rng.integers(0, 100, n)
    coarse = FINE_TO_COARSE[fine]
    x = _images(rng, n)
    _pickle(
        path,
        {"filenames": [f"{label}_{i}.png" for i in range(n)], "batch_label": f"{label} batch",
         "fine_labels": fine.tolist(), "coarse_labels": coarse.tolist(), "data": x},
    )  # fmt: skip
    return {"x": x, "fine": fine.tolist(), "coarse": coarse.tolist()}


def write_cifar100(root: Path, n_train: int = 40, n_test: int = 10) -> dict:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    train = _cifar100_split(folder / "train", rng, n_train, "training")
    test = _cifar100_split(folder / "test", rng, n_test, "testing")
    _pickle(
        folder / "meta",
        {"fine_label_names": [f"fine_{i}" for i in range(100)],
         "coarse_label_names": [f"coarse_{i}" for i in range(20)]},
    )  # fmt: skip
    return {"train": train, "test": test}


def _targets(ds) -> list[int]:
    return [int(ds[i][1]) for i in range(len(ds))]


# ---------------------------------------------------------------------------------- CIFAR tests


def test_cifar10_genuine_pickles(tmp_path):
    truth = write_cifar10(tmp_path)
    ds = load_image_dataset("cifar10", tmp_path, verify_checksums=False)
    assert (len(ds.fit), len(ds.test)) == (20, 6)
    assert (len(ds.train), len(ds.validation)) == (17, 3)
    assert ds.input_shape == (3, 32, 32)
    assert _targets(ds.fit) == truth["train_y"] and _targets(ds.test) == truth["test_y"]
    x, _ = ds.fit[7]
    assert x.min() >= -1 and x.max() <= 1
    channel, row, col = 2, 5, 30
    raw = truth["train_x"][7, channel * 1024 + row * 32 + col]
    assert x[channel, row, col].item() == pytest.approx((raw / 255 - 0.5) / 0.5, abs=1e-6)
    assert ds.fit.classes[0] == "airplane"


def test_cifar_md5_check_is_on_by_default(tmp_path):
    write_cifar10(tmp_path)
    with pytest.raises(RuntimeError, match="md5"):
        load_image_dataset("cifar10", tmp_path)


def test_cifar100_fine_and_cifar20_coarse_labels(tmp_path):
    truth = write_cifar100(tmp_path)
    fine = load_image_dataset("cifar100", tmp_path, transform="corel", verify_checksums=False)
    coarse = load_image_dataset("cifar20", tmp_path, transform="corel", verify_checksums=False)
    for ds in (fine, coarse):
        assert (len(ds.fit), len(ds.test)) == (40, 10)
        assert (len(ds.train), len(ds.validation)) == (34, 6)
        assert ds.input_shape == (3, 32, 32)
    assert _targets(fine.fit) == truth["train"]["fine"]
    assert _targets(fine.test) == truth["test"]["fine"]
    assert _targets(coarse.fit) == truth["train"]["coarse"]
    assert _targets(coarse.test) == truth["test"]["coarse"]
    assert len(coarse.fit.classes) == 20 and coarse.fit.classes[3] == "coarse_3"
    x, _ = coarse.test[2]  # corel: ToTensor only, [0, 1]
    assert x[0, 0, 0].item() == pytest.approx(truth["test"]["x"][2, 0] / 255, abs=1e-6)
    assert x.min() >= 0 and x.max() <= 1


def test_cifar20_rejects_inconsistent_coarse_labels(tmp_path):
    write_cifar100(tmp_path)
    path = tmp_path / "cifar-100-python" / "train"
    entry = pickle.loads(path.read_bytes(), encoding="latin1")
    entry["coarse_labels"][0] = (entry["coarse_labels"][0] + 1) % 20
    entry["fine_labels"][1] = entry["fine_labels"][0]
    entry["coarse_labels"][1] = FINE_TO_COARSE[entry["fine_labels"][0]]
    _pickle(path, entry)
    with pytest.raises(ValueError, match="several coarse labels"):
        load_image_dataset("cifar20", tmp_path, verify_checksums=False)


# --------------------------------------------------------------------- Tiny-ImageNet / ImageNet

WNIDS = ["n02124075", "n01443537", "n09246464"]  # wnids.txt order is not sorted


def _jpeg(path: Path, value: int, size: int = 64, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 255 - value, value // 2)
    Image.new(mode, (size, size), color).save(path, format="JPEG", quality=95)


def write_tinyimagenet(root: Path, per_class: int = 4) -> list[int]:
    folder = root / "tiny-imagenet-200"
    (folder / "train").mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    for wnid in WNIDS:
        for i in range(per_class):
            _jpeg(folder / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", 40 * i)
        boxes = "".join(f"{wnid}_{i}.JPEG\t0\t0\t63\t63\n" for i in range(per_class))
        (folder / "train" / wnid / f"{wnid}_boxes.txt").write_text(boxes)
    val_wnids = [WNIDS[i % 3] for i in range(5)]
    lines = []
    for i, wnid in enumerate(val_wnids):
        _jpeg(folder / "val" / "images" / f"val_{i}.JPEG", 50 * i, mode="L" if i == 1 else "RGB")
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t3\t60\t61")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    _jpeg(folder / "test" / "images" / "test_0.JPEG", 7)  # unlabelled; never read
    class_to_idx = {w: i for i, w in enumerate(sorted(WNIDS))}
    return [class_to_idx[w] for w in val_wnids]


def test_tinyimagenet_folder_layout(tmp_path):
    val_labels = write_tinyimagenet(tmp_path)
    ds = load_image_dataset("tinyimagenet", tmp_path, transform="corel", split_seed=3)
    assert (len(ds.fit), len(ds.test)) == (12, 5)
    assert (len(ds.train), len(ds.validation)) == (10, 2)
    assert ds.input_shape == (3, 32, 32)
    assert ds.fit.classes == sorted(WNIDS)
    assert _targets(ds.test) == val_labels
    for i in range(len(ds.test)):  # the grayscale JPEG comes back as RGB too
        x, _ = ds.test[i]
        assert x.shape == (3, 32, 32) and x.min() >= 0 and x.max() <= 1


def test_tinyimagenet_topoae_transform_keeps_64px(tmp_path):
    write_tinyimagenet(tmp_path)
    ds = load_image_dataset("tinyimagenet", tmp_path, transform="topoae")
    assert ds.input_shape == (3, 64, 64)
    assert ds.fit[0][0].min() >= -1


def test_imagenet_imagefolder(tmp_path):
    classes = ["n01440764", "n01443537"]
    for split, n in (("train", 3), ("val", 2)):
        for c, wnid in enumerate(classes):
            for i in range(n):
                _jpeg(tmp_path / "imagenet" / split / wnid / f"{split}_{c}_{i}.JPEG", 99, 80)
    ds = load_image_dataset("imagenet", tmp_path, transform="corel")
    assert (len(ds.fit), len(ds.test)) == (6, 4)
    assert (len(ds.train), len(ds.validation)) == (5, 1)
    assert ds.input_shape == (3, 32, 32)
    assert _targets(ds.test) == [0, 0, 1, 1]


# --------------------------------------------------------------------------------- missing data


@pytest.mark.parametrize("name", IMAGE_DATASETS)
def test_missing_data_names_the_folder(name, tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_image_dataset(name, tmp_path)
    message = str(info.value)
    assert str(tmp_path / SOURCES[name].folder) in message
    assert SOURCES[name].files[0] in message and "TOPOEXP_DATA_DIR" in message


def test_partly_missing_cifar_lists_only_missing_files(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="missing data_batch_3\\. "):
        load_image_dataset("cifar10", tmp_path, verify_checksums=False)


def test_unknown_names_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown image data set"):
        load_image_dataset("svhn", tmp_path)
    with pytest.raises(ValueError, match="unknown transform"):
        load_image_dataset("mnist", tmp_path, transform="imagenet_norm")


def test_transform_registry_accepts_new_entries(monkeypatch):
    monkeypatch.setattr(images, "TRANSFORMS", dict(images.TRANSFORMS))
    images.register_transform("identity")(lambda dataset: lambda image: image)
    image = Image.new("RGB", (64, 64), (255, 0, 0))
    assert build_transform("identity", "mnist")(image) is image
    assert build_transform("corel", "imagenet")(image).shape == (3, 32, 32)
    assert build_transform("corel", "cifar10")(image).shape == (3, 64, 64)  # no resize


# ---------------------------------------------------------------------------------- composition


@pytest.mark.parametrize(
    ("name", "transform"),
    [
        ("mnist", "topoae"),
        ("fmnist", "topoae"),
        ("cifar10", "topoae"),
        ("cifar100", "corel"),
        ("cifar20", "corel"),
        ("tinyimagenet", "corel"),
        ("imagenet", "corel"),
    ],
)
def test_dataset_configs_compose(name, transform, tmp_path):
    cfg = compose([f"dataset={name}", f"paths.data_dir={tmp_path}"], tmp_path / "run")
    assert cfg.dataset.name == name and cfg.dataset.transform == transform
    assert cfg.dataset.val_fraction == 0.15 and cfg.dataset.root == str(tmp_path)


def test_dataset_config_builds_images(tmp_path):
    write_tinyimagenet(tmp_path)
    cfg = compose(["dataset=tinyimagenet", f"paths.data_dir={tmp_path}"], tmp_path / "run")
    ds = build(cfg, "dataset", split_seed=5)
    direct = load_image_dataset("tinyimagenet", tmp_path, split_seed=5, transform="corel")
    assert ds.name == "tinyimagenet" and ds.input_shape == (3, 32, 32)
    assert ds.train.indices == direct.train.indices


def test_data_check_command_names_the_missing_folder(tmp_path, capsys):
    from topoexp.data.__main__ import main

    assert main(["cifar10", "--root", str(tmp_path)]) == 1
    message = capsys.readouterr().err
    assert str(tmp_path / "cifar-10-batches-py") in message and "TOPOEXP_DATA_DIR" in message


@pytest.mark.data
def test_pooled_mnist_split_is_60_20_20(shared_dir):
    root = shared_dir / "datasets"
    if not (root / "MNIST" / "raw").is_dir():
        pytest.skip(f"MNIST files not found under {root}")
    from topoexp.data.images import load_image_dataset

    data = load_image_dataset(
        "mnist", root, val_fraction=0.25, pooled_test_fraction=0.2, split_seed=3
    )
    sizes = [len(data.fit), len(data.train), len(data.validation), len(data.test)]
    assert sizes == [56_000, 42_000, 14_000, 14_000]
    assert set(data.fit.indices).isdisjoint(data.test.indices)
    assert max(data.test.indices) >= 60_000 > min(data.test.indices)  # both official splits pooled


@pytest.mark.data
def test_subsets_keep_the_first_images_and_split_them(datasets_root, mnist_like):
    small = load_image_dataset("mnist", datasets_root, fit_subset=1000, test_subset=500)
    assert (len(small.fit), len(small.test)) == (1000, 500)
    assert len(small.train) + len(small.validation) == 1000
    full = mnist_like["mnist"]
    for k in (0, 999):
        assert torch.equal(small.fit[k][0], full.fit[k][0]) and small.fit[k][1] == full.fit[k][1]
    assert torch.equal(small.test[499][0], full.test[499][0])
