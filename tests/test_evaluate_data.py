"""Evaluation data: digits split, CIFAR format from a folder, ImageFolder, timm folders, one-line errors."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from archspace.errors import ArchspaceError
from archspace.evaluate.data import load_data

from evalutils import one_torch_thread  # noqa: F401  (autouse fixture)


def test_digits_are_real_resized_and_split_by_seed():
    bundle = load_data({"image_size": 16, "seed": 3})
    assert (bundle.image_size, bundle.in_chans, bundle.num_classes, bundle.name) == (16, 1, 10, "digits")
    assert len(bundle.train) + len(bundle.val) == 1797
    x, y = bundle.train[0]
    assert x.shape == (1, 16, 16) and 0 <= int(y) < 10
    train_x = bundle.train.tensors[0]
    assert abs(float(train_x.mean())) < 1e-4 and float(train_x.std()) == pytest.approx(1.0, abs=1e-3)
    # same seed, same split; another seed, another split; the val split is stratified (every class present)
    again = load_data({"image_size": 16, "seed": 3})
    assert torch.equal(again.val.tensors[0], bundle.val.tensors[0])
    other = load_data({"image_size": 16, "seed": 4})
    assert not torch.equal(other.val.tensors[0], bundle.val.tensors[0])
    assert set(bundle.val.tensors[1].tolist()) == set(range(10))


def test_digits_native_size_and_subsets():
    bundle = load_data({"image_size": None, "max_train": 100, "max_val": 50})
    assert bundle.image_size == 8 and len(bundle.train) == 100 and len(bundle.val) == 50


def write_cifar(root: Path, n_train: int = 20, n_test: int = 10, classes: int = 10) -> None:
    """A CIFAR-10 folder in the python pickle format, with few random images."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        entry = {"data": rng.integers(0, 256, (n_train, 3072), dtype=np.uint8), "labels": [int(v) % classes for v in range(n_train)]}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(entry))
    (folder / "test_batch").write_bytes(
        pickle.dumps({"data": rng.integers(0, 256, (n_test, 3072), dtype=np.uint8), "labels": list(range(n_test))})
    )
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(classes)]}))


def test_cifar10_from_a_local_folder(tmp_path):
    write_cifar(tmp_path)
    bundle = load_data({"name": "cifar10", "root": str(tmp_path), "image_size": 24})
    assert (bundle.image_size, bundle.in_chans, bundle.num_classes) == (24, 3, 10)
    assert len(bundle.train) == 100 and len(bundle.val) == 10
    x, y = bundle.val[3]
    assert x.shape == (3, 24, 24) and y == 3
    # pointing at the batches folder itself works too
    assert len(load_data({"name": "cifar10", "root": str(tmp_path / "cifar-10-batches-py")}).val) == 10


def test_missing_cifar_says_what_to_put_where(tmp_path):
    with pytest.raises(ArchspaceError) as err:
        load_data({"name": "cifar100", "root": str(tmp_path)})
    message = str(err.value)
    assert "\n" not in message
    assert "cifar-100-python" in message and "cifar-100-python.tar.gz" in message and str(tmp_path) in message


def write_folder(root: Path, classes: int = 3, per_class: int = 4, size: int = 20) -> None:
    rng = np.random.default_rng(1)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (size, size + 4, 3), dtype=np.uint8)).save(root / f"class{c}" / f"{i}.png")


def test_imagefolder_with_train_and_val(tmp_path):
    write_folder(tmp_path / "train")
    write_folder(tmp_path / "val", per_class=2)
    bundle = load_data({"name": "imagefolder", "root": str(tmp_path), "image_size": None})
    assert (bundle.image_size, bundle.in_chans, bundle.num_classes) == (20, 3, 3)
    assert len(bundle.train) == 12 and len(bundle.val) == 6
    assert bundle.train[0][0].shape == (3, 20, 20)


def test_imagefolder_without_val_is_split_by_seed(tmp_path):
    write_folder(tmp_path / "train")
    a = load_data({"name": "imagefolder", "root": str(tmp_path), "val_fraction": 0.25, "augment": False})
    b = load_data({"name": "imagefolder", "root": str(tmp_path), "val_fraction": 0.25, "augment": False})
    assert len(a.train) == 9 and len(a.val) == 3
    assert a.val.indices == b.val.indices
    assert a.val[0][0].shape == (3, 32, 32)


def test_imagefolder_missing_root(tmp_path):
    with pytest.raises(ArchspaceError, match=r"data.root: .* is not a folder; put one sub-folder per class"):
        load_data({"name": "imagefolder", "root": str(tmp_path / "nope")})


def test_timm_folder_dataset(tmp_path):
    write_folder(tmp_path / "train")
    write_folder(tmp_path / "validation", per_class=1)
    bundle = load_data({"name": "timm", "dataset": "", "root": str(tmp_path), "image_size": 16})
    assert (bundle.image_size, bundle.num_classes, len(bundle.train), len(bundle.val)) == (16, 3, 12, 3)
    assert bundle.val[0][0].shape == (3, 16, 16)


def test_bad_data_fields_are_one_line():
    with pytest.raises(ArchspaceError, match=r"^data.name: 'mnist' is not one of"):
        load_data({"name": "mnist"})
    with pytest.raises(ArchspaceError, match=r"^data.colour: unknown field"):
        load_data({"colour": True})
