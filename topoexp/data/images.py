"""Image data sets through torchvision: MNIST, Fashion-MNIST, CIFAR, Tiny-ImageNet, ImageNet.

Nothing is downloaded: every loader first checks that the official files lie under ``root`` in
the layout below and raises :class:`FileNotFoundError` naming the folder, the missing files and
how to provide them. Layout under ``root`` (torchvision's defaults where torchvision has them)::

    MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte          mnist
    FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte   fmnist
    cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}   cifar10
    cifar-100-python/{train,test,meta}                              cifar100, cifar20
    tiny-imagenet-200/{wnids.txt,train/<wnid>/images/*.JPEG,
                       val/images/*.JPEG,val/val_annotations.txt}   tinyimagenet
    imagenet/{train,val}/<class>/*                                  imagenet

Splits (spec §1.2–1.3): ``fit`` is the official training split, ``train``/``validation`` its
seeded permutation split (:func:`~topoexp.data.splits.validation_indices`), ``test`` the official
test split (Tiny-ImageNet: the labelled ``val`` folder; ImageNet: ``val``).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import torch
from annotated_types import Ge, Gt, Lt
from torch.utils.data import ConcatDataset, Dataset, Subset
from torchvision import transforms as T
from torchvision.datasets import CIFAR10, CIFAR100, MNIST, FashionMNIST, ImageFolder
from torchvision.datasets.folder import default_loader

from topoexp.capabilities import IMAGES, UNIT_INTERVAL, offers
from topoexp.config.markers import BUILD_ARG, ArgumentError
from topoexp.data.base import DataSplits
from topoexp.data.splits import train_test_indices, validation_indices

Transform = Callable[[Any], torch.Tensor]
TransformBuilder = Callable[[str], Transform]

# ------------------------------------------------------------------------------------ transforms

#: Transform name → builder taking the data set name. Add entries with :func:`register_transform`.
TRANSFORMS: dict[str, TransformBuilder] = {}

#: Data sets whose images the COREL protocol resizes to 32×32 (the full image, no crop).
COREL_RESIZED = frozenset({"tinyimagenet", "imagenet"})


def register_transform(name: str) -> Callable[[TransformBuilder], TransformBuilder]:
    """Decorator: register ``builder(dataset_name) -> transform`` under ``name``."""

    def add(builder: TransformBuilder) -> TransformBuilder:
        TRANSFORMS[name] = builder
        return builder

    return add


def build_transform(name: str, dataset: str) -> Transform:
    """The transform called ``name`` for images of data set ``dataset``."""
    if name not in TRANSFORMS:
        raise ArgumentError(
            "transform", f"unknown transform {name!r}; known: {', '.join(sorted(TRANSFORMS))}"
        )
    return TRANSFORMS[name](dataset)


@register_transform("topoae")
def _topoae_transform(dataset: str) -> Transform:
    """TopoAE (spec §1.2): ToTensor then Normalize(0.5, 0.5) per channel, values in [−1, 1]."""
    return T.Compose([T.ToTensor(), T.Normalize(0.5, 0.5)])


@register_transform("corel")
def _corel_transform(dataset: str) -> Transform:
    """COREL (A.4): ToTensor only, values in [0, 1]; the ImageNets are resized to 32×32 first."""
    steps: list[Transform] = [T.Resize((32, 32))] if dataset in COREL_RESIZED else []
    return T.Compose([*steps, T.ToTensor()])


@register_transform("corel32")
def _corel32_transform(dataset: str) -> Transform:
    """COREL on any data set: resized to 32×32 (MNIST and Fashion-MNIST's 28×28 too), [0, 1]."""
    return T.Compose([T.Resize((32, 32)), T.ToTensor()])


# ------------------------------------------------------------------------------- file checks


def _require(name: str, directory: Path, expected: list[str], layout: str) -> None:
    """Raise FileNotFoundError unless every path in ``expected`` exists under ``directory``."""
    missing = [p for p in expected if not (directory / p).exists()]
    if missing:
        raise FileNotFoundError(
            f"data set {name!r} not found in {directory}: missing {', '.join(missing)}. "
            f"Expected {layout}. Nothing is downloaded automatically: put the official files "
            f"into {directory} or point TOPOEXP_DATA_DIR / paths.data_dir at a folder that "
            "holds them."
        )


def _mnist_files() -> list[str]:
    return [
        f"{split}-{kind}"
        for split in ("train", "t10k")
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")
    ]


# ----------------------------------------------------------------------------------- CIFAR


class _Md5Switch:
    """Mixin for torchvision's CIFAR classes that can skip the md5 comparison.

    torchvision's ``CIFAR10._check_integrity`` (every file of ``train_list + test_list``) and
    ``_load_meta`` (``meta['filename']``) call ``check_integrity(path, md5)`` with the official
    md5s; ``check_integrity(path, None)`` only checks that the file exists. With
    ``verify_md5=False`` this instance's file lists carry ``None`` instead of the md5s, so
    torchvision's own reading code runs unchanged on files that are not the official bytes (small
    test fixtures, re-pickled copies). The default keeps torchvision's full check.
    """

    train_list: list[list[Any]]
    test_list: list[list[Any]]
    meta: dict[str, Any]

    def __init__(self, *args: Any, verify_md5: bool = True, **kwargs: Any) -> None:
        if not verify_md5:
            self.train_list = [[f, None] for f, _ in type(self).train_list]
            self.test_list = [[f, None] for f, _ in type(self).test_list]
            self.meta = {**type(self).meta, "md5": None}
        super().__init__(*args, **kwargs)


class _CIFAR10(_Md5Switch, CIFAR10):
    """torchvision's CIFAR10 with an optional md5 check (see :class:`_Md5Switch`)."""


class _CIFAR100(_Md5Switch, CIFAR100):
    """torchvision's CIFAR100 (fine labels) with an optional md5 check."""


def _cifar(
    cls: type[CIFAR10], root: Path, train: bool, transform: Transform, verify: bool
) -> CIFAR10:
    try:
        return cls(root, train=train, transform=transform, download=False, verify_md5=verify)
    except RuntimeError as err:  # files exist (checked before), so an md5 did not match
        raise RuntimeError(
            f"{root / cls.base_folder}: the files do not match the official md5 checksums; "
            "replace them with the official files (or pass verify_checksums=False)"
        ) from err


def _unpickle(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def _to_coarse(ds: CIFAR100, folder: Path) -> CIFAR100:
    """Replace the fine targets of ``ds`` by the 20 superclass labels stored in its pickle."""
    split = _unpickle(folder / ("train" if ds.train else "test"))
    coarse = [int(c) for c in split["coarse_labels"]]
    if len(coarse) != len(ds.targets):
        raise ValueError(f"{folder}: {len(coarse)} coarse labels for {len(ds.targets)} images")
    fine_to_coarse: dict[int, int] = {}
    for fine, c in zip(ds.targets, coarse, strict=True):
        if fine_to_coarse.setdefault(fine, c) != c:
            raise ValueError(f"{folder}: fine label {fine} maps to several coarse labels")
    ds.targets = coarse
    ds.classes = list(_unpickle(folder / "meta")["coarse_label_names"])
    ds.class_to_idx = {c: i for i, c in enumerate(ds.classes)}
    return ds


# ----------------------------------------------------------------------------- Tiny-ImageNet


class TinyImageNetVal(Dataset):
    """Tiny-ImageNet-200's labelled ``val`` folder: ``val/images/*.JPEG`` + ``val_annotations.txt``.

    Labels are the annotation's wnid mapped through ``class_to_idx`` of the training folder
    (``ImageFolder`` order: sorted wnids). Images are read as RGB, as ``ImageFolder`` does.
    """

    def __init__(
        self, root: Path, class_to_idx: dict[str, int], transform: Transform | None = None
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.samples = self._read_annotations(class_to_idx)
        self.targets = [target for _, target in self.samples]

    def _read_annotations(self, class_to_idx: dict[str, int]) -> list[tuple[Path, int]]:
        samples = []
        for line in (self.root / "val" / "val_annotations.txt").read_text().splitlines():
            if not line.strip():
                continue
            fname, wnid = line.split("\t")[:2]
            if wnid not in class_to_idx:
                raise ValueError(f"{self.root}: val image {fname} has unknown class {wnid}")
            samples.append((self.root / "val" / "images" / fname, class_to_idx[wnid]))
        return samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, target = self.samples[index]
        image = default_loader(str(path))
        return (self.transform(image) if self.transform else image), target


# ------------------------------------------------------------------------------------ loaders


@dataclass(frozen=True)
class _Source:
    """Where a data set lives under ``root`` and how to read its (fit, test) splits."""

    folder: str
    files: list[str]
    layout: str
    read: Callable[[Path, Transform, bool], tuple[Dataset, Dataset]]


#: md5 of the official uncompressed idx files (the ``.gz`` md5s torchvision lists decompress to
#: these bytes; torchvision itself reads only the uncompressed files).
MNIST_MD5 = {
    "MNIST": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "FashionMNIST": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}


def md5sum(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_mnist_files(folder: Path, cls_name: str) -> None:
    """Raise a clear error if an idx file under ``folder`` is not the official file."""
    for name, expected in MNIST_MD5[cls_name].items():
        path = folder / name
        actual = md5sum(path)
        if actual != expected:
            raise RuntimeError(
                f"{path} is not the official {cls_name} file (md5 {actual}, expected "
                f"{expected}; {path.stat().st_size:,} bytes): it is truncated or corrupt. "
                "Replace it with the official uncompressed file (gunzip the official .gz), "
                "or pass verify_checksums=false (dataset.verify_checksums) for your own files."
            )


def _read_mnist(cls: type[MNIST]) -> Callable[[Path, Transform, bool], tuple[Dataset, Dataset]]:
    def read(root: Path, transform: Transform, verify: bool) -> tuple[Dataset, Dataset]:
        if verify:
            verify_mnist_files(root / cls.__name__ / "raw", cls.__name__)
        fit = cls(root, train=True, transform=transform, download=False)
        return fit, cls(root, train=False, transform=transform, download=False)

    return read


def _read_cifar(
    cls: type[CIFAR10], coarse: bool = False
) -> Callable[[Path, Transform, bool], tuple[Dataset, Dataset]]:
    def read(root: Path, transform: Transform, verify: bool) -> tuple[Dataset, Dataset]:
        fit, test = (_cifar(cls, root, train, transform, verify) for train in (True, False))
        if coarse:
            folder = root / cls.base_folder
            fit, test = _to_coarse(fit, folder), _to_coarse(test, folder)
        return fit, test

    return read


def _read_tinyimagenet(root: Path, transform: Transform, verify: bool) -> tuple[Dataset, Dataset]:
    folder = root / "tiny-imagenet-200"
    fit = ImageFolder(folder / "train", transform=transform)
    wnids = set((folder / "wnids.txt").read_text().split())
    if wnids != set(fit.classes):
        raise ValueError(f"{folder}: wnids.txt does not list the class folders of train/")
    return fit, TinyImageNetVal(folder, fit.class_to_idx, transform)


def _read_imagenet(root: Path, transform: Transform, verify: bool) -> tuple[Dataset, Dataset]:
    folder = root / "imagenet"
    fit = ImageFolder(folder / "train", transform=transform)
    test = ImageFolder(folder / "val", transform=transform)
    if test.classes != fit.classes:
        raise ValueError(f"{folder}: val/ and train/ hold different class folders")
    return fit, test


_MNIST_LAYOUT = "the four uncompressed idx files (torchvision layout)"

SOURCES: dict[str, _Source] = {
    "mnist": _Source("MNIST/raw", _mnist_files(), _MNIST_LAYOUT, _read_mnist(MNIST)),
    "fmnist": _Source("FashionMNIST/raw", _mnist_files(), _MNIST_LAYOUT, _read_mnist(FashionMNIST)),
    "cifar10": _Source(
        CIFAR10.base_folder,
        [f for f, _ in CIFAR10.train_list + CIFAR10.test_list] + [CIFAR10.meta["filename"]],
        "the extracted python version of CIFAR-10 (cifar-10-python.tar.gz)",
        _read_cifar(_CIFAR10),
    ),
    "cifar100": _Source(
        CIFAR100.base_folder,
        ["train", "test", "meta"],
        "the extracted python version of CIFAR-100 (cifar-100-python.tar.gz)",
        _read_cifar(_CIFAR100),
    ),
    "cifar20": _Source(
        CIFAR100.base_folder,
        ["train", "test", "meta"],
        "the extracted python version of CIFAR-100 (cifar-100-python.tar.gz)",
        _read_cifar(_CIFAR100, coarse=True),
    ),
    "tinyimagenet": _Source(
        "tiny-imagenet-200",
        ["wnids.txt", "train", "val/images", "val/val_annotations.txt"],
        "the extracted tiny-imagenet-200.zip (train/<wnid>/images/*.JPEG, val/images, "
        "val/val_annotations.txt)",
        _read_tinyimagenet,
    ),
    "imagenet": _Source(
        "imagenet",
        ["train", "val"],
        "ImageFolder trees imagenet/train/<class>/* and imagenet/val/<class>/*",
        _read_imagenet,
    ),
}

ImageDatasetName = Literal[
    "mnist", "fmnist", "cifar10", "cifar100", "cifar20", "tinyimagenet", "imagenet"
]
#: The names :func:`load_image_dataset` accepts.
IMAGE_DATASETS: tuple[str, ...] = get_args(ImageDatasetName)
assert set(IMAGE_DATASETS) == set(SOURCES)
Fraction = Annotated[float, Gt(0), Lt(1)]


#: Transforms whose values lie in [0, 1].
UNIT_INTERVAL_TRANSFORMS = ("corel", "corel32")


def _image_offers(node) -> frozenset[str]:
    """Images, in [0, 1] under the COREL transforms (ToTensor only)."""
    transform = node.get("transform", "topoae")
    return frozenset(
        {IMAGES} | ({UNIT_INTERVAL} if transform in UNIT_INTERVAL_TRANSFORMS else set())
    )


@offers(_image_offers)
def load_image_dataset(
    name: ImageDatasetName,
    root: str,
    *,
    val_fraction: Fraction = 0.15,
    split_seed: Annotated[int, BUILD_ARG] = 0,
    transform: str = "topoae",
    verify_checksums: bool = True,
    pooled_test_fraction: Fraction | None = None,
    pool_seed: int = 42,
    fit_subset: Annotated[int, Ge(2)] | None = None,
    test_subset: Annotated[int, Ge(2)] | None = None,
) -> DataSplits:
    """Load image data set ``name`` from ``root`` with its official splits (spec §1.2–1.3).

    With ``pooled_test_fraction`` the official training and test splits are pooled and split
    again, shuffled with ``pool_seed``: ``pooled_test_fraction`` of all images become the test
    split (the reproduction study's 60/20/20 protocol: 0.2 here and ``val_fraction=0.25``).

    Args:
        name: one of :data:`IMAGE_DATASETS`.
        root: the data root holding the layout of the module docstring.
        val_fraction: validation share of the training split.
        split_seed: seed of the validation permutation (the run seed).
        transform: a key of :data:`TRANSFORMS` (``topoae``: [−1, 1]; ``corel``: [0, 1]).
        verify_checksums: compare the files with the official md5s (MNIST, Fashion-MNIST: the
            uncompressed idx files; CIFAR: torchvision's list).
        fit_subset, test_subset: keep only the first that many training / test images (smoke
            runs, ``debug=smoke``; ``None``, the protocol: all of them).

    Raises:
        FileNotFoundError: the files are not under ``root``; the message names the folder.
    """
    if name not in SOURCES:
        raise ArgumentError(
            "name", f"unknown image data set {name!r}; known: {', '.join(IMAGE_DATASETS)}"
        )
    source = SOURCES[name]
    tf = build_transform(transform, name)
    root = Path(root).expanduser()
    _require(name, root / source.folder, source.files, source.layout)
    fit, test = source.read(root, tf, verify_checksums)
    if pooled_test_fraction is not None:
        pool = ConcatDataset([fit, test])
        fit_idx, test_idx = train_test_indices(len(pool), pooled_test_fraction, pool_seed)
        fit, test = Subset(pool, fit_idx.tolist()), Subset(pool, test_idx.tolist())
    if fit_subset is not None and fit_subset < len(fit):
        fit = Subset(fit, range(fit_subset))
    if test_subset is not None and test_subset < len(test):
        test = Subset(test, range(test_subset))
    tr, va = validation_indices(len(fit), val_fraction, split_seed)
    return DataSplits(
        name=name,
        fit=fit,
        train=Subset(fit, tr.tolist()),
        validation=Subset(fit, va.tolist()),
        test=test,
        input_shape=tuple(fit[0][0].shape),
    )
