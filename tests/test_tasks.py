"""The generated tasks: deterministic bytes, real packaged content, disjoint splits; digit_lookup's labels at the
pointers, digit_twins' labels the class of the one handwriting drawn twice."""
import hashlib
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from archspace.evaluate.tasks import POINTER, TASKS, DigitLookup, generate, source_digits, source_photos

SMALL = replace(TASKS["digit_lookup"], sizes=(300, 100, 100))


def _digest(splits) -> str:
    h = hashlib.sha256()
    for split in ("train", "val", "test"):
        for array in splits[split]:
            h.update(array.tobytes())
    return h.hexdigest()


def _assert_cells_are_the_source_digits_on_black(spec: DigitLookup, images_checked: int = 5) -> None:
    """On a black background every cell of `spec`'s images is exactly its source digit at ink brightness."""
    digits, _ = source_digits()
    black = replace(spec, background=0.0)
    images, _, sources = generate(black, seed=0)["train"]
    m, t = black.margin, black.tile
    for i in range(images_checked):
        for cell in range(9):
            r, c = divmod(cell, 3)
            patch = images[i, 2, m + r * t:m + (r + 1) * t, m + c * t:m + (c + 1) * t] / 255.0
            np.testing.assert_allclose(patch, black.ink * digits[sources[i, cell]], atol=1 / 255)


def test_same_seed_same_bytes_and_another_seed_other_bytes():
    assert _digest(generate(SMALL, seed=0)) == _digest(generate(SMALL, seed=0))
    assert _digest(generate(SMALL, seed=0)) != _digest(generate(SMALL, seed=1))


def test_shapes_and_classes():
    splits = generate(SMALL, seed=0)
    size = SMALL.image_size
    assert size == 32
    for split, n in zip(("train", "val", "test"), SMALL.sizes):
        images, labels, sources = splits[split]
        assert images.shape == (n, 3, size, size) and images.dtype == np.uint8
        assert labels.shape == (n,) and sources.shape == (n, 9)
    assert set(np.unique(splits["train"][1])) == set(range(10))


def test_cells_carry_the_packaged_digits_not_noise():
    """With a black background each cell is exactly the source digit at ink brightness; with photos it still correlates."""
    digits, _ = source_digits()
    _assert_cells_are_the_source_digits_on_black(SMALL)
    m, t = SMALL.margin, SMALL.tile
    images, _, sources = generate(SMALL, seed=0)["train"]
    own, other = [], []
    rng = np.random.default_rng(0)
    for i in range(50):
        for cell in range(9):
            r, c = divmod(cell, 3)
            patch = images[i, :, m + r * t:m + (r + 1) * t, m + c * t:m + (c + 1) * t].mean(0).ravel()
            own.append(np.corrcoef(patch, digits[sources[i, cell]].ravel())[0, 1])
            other.append(np.corrcoef(patch, digits[rng.integers(len(digits))].ravel())[0, 1])
    assert np.nanmean(own) > 0.9 and np.nanmean(own) > np.nanmean(other) + 0.3  # noise would give ~0


def test_background_is_a_packaged_photo():
    """The blank border at the bottom right is a crop of one of scikit-learn's photos at the background brightness."""
    spec = replace(SMALL, sizes=(3, 1, 1))
    images, _, _ = generate(spec, seed=0)["train"]
    photos = [p[:, :, : int(0.6 * p.shape[2])] for p in source_photos()]  # the train band
    corner = images[0, :, -3:, -3:] / 255.0
    found = any(
        np.allclose(spec.background * p[:, y:y + 3, x:x + 3], corner, atol=1 / 255)
        for p in photos for y in range(p.shape[1] - 2) for x in range(p.shape[2] - 2)
        if abs(spec.background * p[0, y, x] - corner[0, 0, 0]) < 1 / 255
    )
    assert found


def test_splits_use_disjoint_source_digits():
    splits = generate(SMALL, seed=0)
    used = {k: set(np.unique(v[2])) for k, v in splits.items()}
    assert not used["train"] & used["val"] and not used["train"] & used["test"] and not used["val"] & used["test"]


def test_label_is_the_digit_where_the_pointers_meet():
    _, digit_labels = source_digits()
    images, labels, sources = generate(SMALL, seed=0)["train"]
    m, t = SMALL.margin, SMALL.tile
    red = np.round(POINTER * 255).astype(int)
    for i in range(40):
        left = [r for r in range(3) if (images[i, :, m + r * t + 3, 1] == red).all()]
        top = [c for c in range(3) if (images[i, :, 1, m + c * t + 3] == red).all()]
        assert len(left) == len(top) == 1
        assert labels[i] == digit_labels[sources[i, left[0] * 3 + top[0]]]


def test_loader_gives_standardised_splits():
    from archspace.evaluate.data import DataConfig, load_data

    bundle = load_data(DataConfig(name="digit_lookup"))
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (5000, 1000, 2000)
    assert (bundle.image_size, bundle.in_chans, bundle.num_classes) == (32, 3, 10)
    x = bundle.train.tensors[0]
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-4 and (x.std(dim=(0, 2, 3)) - 1).abs().max() < 1e-3


def test_task_spec_is_a_plain_dataclass():
    with pytest.raises(Exception):
        DigitLookup().grid = 4  # frozen: a task's definition does not change under a table


TWINS = replace(TASKS["digit_twins"], sizes=(300, 100, 100))


def test_twins_same_seed_same_bytes_and_cells_carry_the_packaged_digits():
    assert _digest(generate(TWINS, seed=0)) == _digest(generate(TWINS, seed=0))
    assert _digest(generate(TWINS, seed=0)) != _digest(generate(TWINS, seed=1))
    _assert_cells_are_the_source_digits_on_black(TWINS)


def test_twins_label_is_the_class_of_the_one_handwriting_drawn_twice_and_class_counts_leave_four():
    _, digit_labels = source_digits()
    splits = generate(TWINS, seed=0)
    for split in ("train", "val", "test"):
        _, labels, sources = splits[split]
        for label, cells in zip(labels, sources):
            twins = [src for src, n in Counter(cells.tolist()).items() if n == 2]
            assert len(twins) == 1 and digit_labels[twins[0]] == label  # one instance twice, and it is the label
            assert sorted(Counter(digit_labels[cells].tolist()).values()) == [1, 2, 2, 2, 2]  # reading classes leaves 4
    assert set(np.unique(splits["train"][1])) == set(range(10))
    used = {k: set(np.unique(v[2])) for k, v in splits.items()}
    assert not used["train"] & used["val"] and not used["train"] & used["test"] and not used["val"] & used["test"]


def test_twins_is_a_data_name_with_its_own_sizes():
    from archspace.evaluate.data import DataConfig

    assert DataConfig(name="digit_twins").name == "digit_twins"
    assert TASKS["digit_twins"].sizes == (20000, 1000, 2000) and TASKS["digit_twins"].image_size == 32
