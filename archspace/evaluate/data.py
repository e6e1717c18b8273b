"""Evaluation data: the offline digits and digit-lookup sets, CIFAR-10/100 and ImageFolder from local folders, any timm dataset.

`load_data(cfg)` returns a `DataBundle` whose input size, channels and classes come from the data.
Nothing is downloaded: a missing folder raises one line saying what to put where.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.utils.data import Dataset, Subset, TensorDataset

from archspace.errors import ArchspaceError
from archspace.evaluate.config import validate

DatasetName = Literal["digits", "digit_lookup", "digit_twins", "cifar10", "cifar100", "imagefolder", "timm"]

# Per-channel statistics of the CIFAR training sets (RGB, in [0, 1]).
CIFAR_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


class DataConfig(BaseModel):
    """The search config's `data:` block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: DatasetName = "digits"
    root: str | None = Field(None, description="folder of the data (cifar*, imagefolder, timm)")
    image_size: int | None = Field(32, ge=8, description="square input size the images are resized to; null keeps the data's own size")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="share held out for validation where the data has no val split")
    seed: int = Field(0, description="seed of the train/val split and of the subsets")
    max_train: int | None = Field(None, ge=1, description="use a seeded subset of this many training images")
    max_val: int | None = Field(None, ge=1, description="use a seeded subset of this many validation images")
    augment: bool = Field(True, description="timm training transforms (random resized crop, flip) for image datasets; digits are never augmented")
    train_split: str = "train"
    val_split: str = "val"
    dataset: str = Field("", description="timm dataset name for name=timm, e.g. 'torch/cifar10' or '' for a folder")
    num_classes: int | None = Field(None, ge=1, description="only where the data cannot tell (some timm readers)")


@dataclass(frozen=True)
class DataBundle:
    """Train and validation sets with what a network needs to know about them."""

    train: Dataset
    val: Dataset
    image_size: int
    in_chans: int
    num_classes: int
    name: str
    mean: tuple[float, ...] | None = None  # per-channel normalisation the images went through: pixel = x * std + mean
    std: tuple[float, ...] | None = None
    test: Dataset | None = None  # a held-out test split, where the data has one

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self.train)} train / {len(self.val)} val images, "
            f"{self.in_chans}x{self.image_size}x{self.image_size}, {self.num_classes} classes"
        )


def load_data(cfg: DataConfig | dict[str, Any] | None = None) -> DataBundle:
    """The datasets a config names (default: digits at 32 px)."""
    cfg = cfg if isinstance(cfg, DataConfig) else validate(DataConfig, cfg or {}, "data")
    bundle = LOADERS[cfg.name](cfg)
    return replace(bundle, train=_subset(bundle.train, cfg.max_train, cfg.seed), val=_subset(bundle.val, cfg.max_val, cfg.seed + 1))


def load_generated_task(cfg: DataConfig) -> DataBundle:
    """A generated task (archspace.evaluate.tasks): train/val/test, standardised per channel."""
    from archspace.evaluate.tasks import TASKS, task_tensors

    splits, mean, std = task_tensors(cfg.name, cfg.seed, cfg.image_size)
    sets = {k: TensorDataset(x, y) for k, (x, y) in splits.items()}
    return DataBundle(train=sets["train"], val=sets["val"], test=sets["test"], image_size=cfg.image_size or TASKS[cfg.name].image_size,
                      in_chans=3, num_classes=10, name=cfg.name, mean=mean, std=std)


def _subset(dataset: Dataset, limit: int | None, seed: int) -> Dataset:
    """A seeded random subset of `limit` items (the whole set when it is smaller)."""
    if limit is None or limit >= len(dataset):
        return dataset
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    return Subset(dataset, order[:limit].tolist())


def _split(n: int, fraction: float, seed: int, labels: list[int] | None = None) -> tuple[list[int], list[int]]:
    """Seeded train/val indices; stratified by label when labels are given."""
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(list(range(n)), test_size=fraction, random_state=seed, stratify=labels)
    except ValueError:  # too few images per class (or in the val share) to stratify
        return train_test_split(list(range(n)), test_size=fraction, random_state=seed)


def digits_pixels(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 digits as (N, 1, size, size) pixels in [0, 1] (bilinear resize) and their labels."""
    try:
        from sklearn.datasets import load_digits as sk_digits
    except ImportError as exc:  # a core dependency, but say so in one line if it was removed
        raise ArchspaceError('the digits dataset needs scikit-learn: pip install -e "."') from exc
    digits = sk_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # N,1,8,8 in [0, 1]
    if size != images.shape[-1]:
        images = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return images, torch.tensor(digits.target, dtype=torch.long)


def load_digits(cfg: DataConfig) -> DataBundle:
    """scikit-learn's bundled handwritten digits (1,797 real 8x8 grey images, 10 classes), resized and standardised."""
    size = cfg.image_size or 8
    images, labels = digits_pixels(size)
    train_idx, val_idx = _split(len(labels), cfg.val_fraction, cfg.seed, labels.tolist())
    train_x = images[train_idx]
    mean, std = train_x.mean(), train_x.std()
    standardise = lambda x: (x - mean) / std  # noqa: E731  (statistics of the training split only)
    return DataBundle(
        train=TensorDataset(standardise(train_x), labels[train_idx]),
        val=TensorDataset(standardise(images[val_idx]), labels[val_idx]),
        image_size=size,
        in_chans=1,
        num_classes=int(labels.max()) + 1,
        name="digits",
        mean=(float(mean),),
        std=(float(std),),
    )


def _transforms(cfg: DataConfig, size: int, mean, std) -> tuple[Callable, Callable]:
    """timm's train and eval transforms at `size` (train: random resized crop and flip when `augment`)."""
    from timm.data import create_transform

    common = dict(input_size=(len(mean), size, size), mean=mean, std=std, interpolation="bilinear")
    # crop_pct 1.0: small images keep their whole content (no eval centre-crop margin).
    val_tf = create_transform(is_training=False, crop_pct=1.0, **common)
    if not cfg.augment:
        return val_tf, val_tf
    train_tf = create_transform(is_training=True, scale=(0.5, 1.0), hflip=0.5, color_jitter=0.0, **common)
    return train_tf, val_tf


def _cifar_class(name: str):
    """torchvision's CIFAR class with checksums off, so a copy in the same format (or a subset) loads."""
    from torchvision.datasets import CIFAR10, CIFAR100

    base = CIFAR10 if name == "cifar10" else CIFAR100
    # torchvision's check_integrity(path, md5=None) only checks that the file exists.
    return type(
        f"Local{base.__name__}",
        (base,),
        {
            "train_list": [[f, None] for f, _ in base.train_list],
            "test_list": [[f, None] for f, _ in base.test_list],
            "meta": {**base.meta, "md5": None},
        },
    )


def load_cifar(cfg: DataConfig) -> DataBundle:
    """CIFAR-10/100 from a local folder (python version), read by torchvision with download=False."""
    label = "CIFAR-10" if cfg.name == "cifar10" else "CIFAR-100"
    cls = _cifar_class(cfg.name)
    root = Path(cfg.root or "data").expanduser()
    if root.name == cls.base_folder:
        root = root.parent
    folder = root / cls.base_folder
    missing = [f for f, _ in cls.train_list + cls.test_list + [[cls.meta["filename"], None]] if not (folder / f).is_file()]
    if missing:
        raise ArchspaceError(
            f"data.root: no {label} at {folder} (missing {missing[0]}); extract {cls.filename} "
            f"(from {cls.url}) so that {folder}/ holds {', '.join(f for f, _ in cls.train_list + cls.test_list)}"
        )
    size = cfg.image_size or 32
    train_tf, val_tf = _transforms(cfg, size, *CIFAR_STATS[cfg.name])
    train = cls(str(root), train=True, transform=train_tf, download=False)
    val = cls(str(root), train=False, transform=val_tf, download=False)
    return DataBundle(train, val, size, 3, len(train.classes), cfg.name, *CIFAR_STATS[cfg.name])


def _native_size(dataset: Dataset) -> int:
    """The shorter side of the first image of a dataset that yields PIL images."""
    image = dataset[0][0]
    return min(image.size)


def _num_classes(dataset: Dataset, cfg: DataConfig) -> int:
    """Classes as the dataset (or its timm reader) declares them, else `cfg.num_classes`."""
    for owner in (dataset, getattr(dataset, "reader", None)):
        for attr in ("classes", "class_to_idx"):
            value = getattr(owner, attr, None)
            if value:
                return len(value)
    if cfg.num_classes is None:
        raise ArchspaceError("data.num_classes: this dataset does not say how many classes it has; set data.num_classes")
    return cfg.num_classes


def _split_or_folder(
    make: Callable[[str, Callable | None], Dataset], cfg: DataConfig, has_val: bool
) -> tuple[Dataset, Dataset]:
    """Train/val datasets from their own splits, or a seeded split of the training data when there is no val split."""
    if has_val:
        return make(cfg.train_split, "train"), make(cfg.val_split, "val")
    train_all, val_all = make(cfg.train_split, "train"), make(cfg.train_split, "val")
    labels = _labels(train_all)
    train_idx, val_idx = _split(len(train_all), cfg.val_fraction, cfg.seed, labels)
    return Subset(train_all, train_idx), Subset(val_all, val_idx)


def _labels(dataset: Dataset) -> list[int] | None:
    targets = getattr(dataset, "targets", None)
    if targets is None:
        return None
    labels = [int(t) for t in targets]
    counts = torch.bincount(torch.tensor(labels))
    return labels if int(counts[counts > 0].min()) >= 2 else None  # stratifying needs two per class


def _require_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise ArchspaceError(f"data.root: {path} is not a folder; put {what} there")


def load_imagefolder(cfg: DataConfig) -> DataBundle:
    """Any torchvision ImageFolder: root/<train_split>/<class>/*.png (and root/<val_split>/..., else a seeded split)."""
    from torchvision.datasets import ImageFolder

    if cfg.root is None:
        raise ArchspaceError("data.root: imagefolder needs root: a folder with train/<class>/<images> (and val/<class>/...)")
    root = Path(cfg.root).expanduser()
    _require_dir(root / cfg.train_split, f"one sub-folder per class of training images in {cfg.train_split}/")
    probe = ImageFolder(str(root / cfg.train_split))
    size = cfg.image_size or _native_size(probe)
    from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

    tfs = dict(zip(("train", "val"), _transforms(cfg, size, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)))

    def make(split: str, role: str) -> Dataset:
        return ImageFolder(str(root / split), transform=tfs[role])

    train, val = _split_or_folder(make, cfg, (root / cfg.val_split).is_dir())
    return DataBundle(train, val, size, 3, len(probe.classes), "imagefolder", IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)


def load_timm(cfg: DataConfig) -> DataBundle:
    """Any dataset timm.data.create_dataset reads (folders, tars, torch/<name>, hfds/..., wds/...), never downloading."""
    from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, create_dataset

    if cfg.root is None:
        raise ArchspaceError(f"data.root: timm dataset {cfg.dataset!r} needs root (the folder it reads)")
    root = os.fspath(Path(cfg.root).expanduser())

    def open_split(split: str, transform: Callable | None = None) -> Dataset:
        try:
            dataset = create_dataset(cfg.dataset, root=root, split=split, is_training=False, download=False)
        except (RuntimeError, FileNotFoundError, AssertionError, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ArchspaceError(f"data: timm could not read {cfg.dataset or 'folder'} split {split!r} at {root}: {first}") from exc
        dataset.transform = transform
        return dataset

    probe = open_split(cfg.train_split)
    size = cfg.image_size or _native_size(probe)
    tfs = dict(zip(("train", "val"), _transforms(cfg, size, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)))

    def make(split: str, role: str) -> Dataset:
        return open_split(split, tfs[role])

    if "/" not in cfg.dataset:  # a folder or tar reader: timm falls back to root itself when the split is absent
        has_val = any((Path(root) / s).exists() for s in (cfg.val_split, "val", "valid", "validation", "eval", "evaluation"))
    else:
        try:
            open_split(cfg.val_split)
            has_val = True
        except ArchspaceError:
            has_val = False
    train, val = _split_or_folder(make, cfg, has_val)
    return DataBundle(train, val, size, 3, _num_classes(probe, cfg), f"timm:{cfg.dataset or 'folder'}",
                      IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)


LOADERS: dict[str, Callable[[DataConfig], DataBundle]] = {
    "digits": load_digits,
    "digit_lookup": load_generated_task,
    "digit_twins": load_generated_task,
    "cifar10": load_cifar,
    "cifar100": load_cifar,
    "imagefolder": load_imagefolder,
    "timm": load_timm,
}
