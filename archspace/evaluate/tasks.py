"""Offline tasks generated from images that ship inside scikit-learn, built so that the architecture matters.

`digit_lookup` (32 px, 10 classes): a 3x3 grid of scikit-learn's real handwritten digits (8x8 each),
drawn as white ink over a crop of one of scikit-learn's two sample photographs (china.jpg,
flower.jpg). A red bar in the left margin points at a row, a red bar in the top margin at a column,
and the label is the digit in the cell where they meet. The two pointers sit far from most of the
cells they select, and every cell holds a digit, so no part of the image answers alone: a network
must carry what the pointers say across the image to the selected cell (or carry every cell's digit
to where the pointers are). A mixer's reach therefore matters, and the photographs make reading a
digit harder than on a black background. Train, validation and test images are composed from
disjoint pools of source digits (unseen handwriting at test time) and of photo regions. Everything is
drawn from one seeded NumPy generator: a seed gives the same bytes on every machine.

`digit_twins` (32 px, 10 classes, 20,000 training images): the same 3x3 grid over photos, without pointers.
Its nine digits come in four class pairs and one single; in one pair the same handwriting is drawn twice
(the twins), in the other three two different hands write the class. The label is the twins' class.
Reading the classes leaves four candidates (25%); only comparing the cells' handwriting with each other,
across the image, decides -- a same-different relation, which convolutional networks are known to learn
slowly (Kim, Ricci & Serre 2018, "Not-so-CLEVR"). It is the task on which the global-attention probe beats
the local-only one (docs/evaluate.md, `benchmarks/probe_gap.py --variants twins4x`); with 5,000 training
images neither learns the relation in 10 epochs, hence 20,000.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

SPLITS = ("train", "val", "test")
POINTER = np.array([1.0, 0.1, 0.1], dtype=np.float32)  # the colour of the two pointer bars


@dataclass(frozen=True)
class DigitLookup:
    """How the digit-lookup images are composed (the defaults are the task `digit_lookup`)."""

    grid: int = 3  # cells per side
    tile: int = 8  # scikit-learn's digits are 8x8
    margin: int = 4  # pointer margin on the left and top (and blank border on the right and bottom)
    ink: float = 0.85  # digit brightness over the photo
    background: float = 0.85  # photo brightness behind the digits (bright regions hide the ink: reading is not trivial)
    sizes: tuple[int, int, int] = (5000, 1000, 2000)  # train, val, test images (a larger test split: less sampling noise, evaluated once)
    pool_shares: tuple[float, float, float] = (0.6, 0.2, 0.2)  # of the 1,797 source digits and of each photo, per split
    relation: Literal["lookup", "twins"] = "lookup"  # what the label asks: the digit at the pointers, or the twins' class

    @property
    def image_size(self) -> int:
        return self.grid * self.tile + 2 * self.margin


def source_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 real handwritten digits: (N, 8, 8) float32 in [0, 1] and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)


def source_photos() -> list[np.ndarray]:
    """scikit-learn's two sample photographs (china, flower) as (3, H, W) float32 in [0, 1], halved in size."""
    from sklearn.datasets import load_sample_images

    return [(img[::2, ::2].astype(np.float32) / 255.0).transpose(2, 0, 1) for img in load_sample_images().images]


def split_pools(labels: np.ndarray, shares: tuple[float, ...], rng: np.random.Generator) -> list[np.ndarray]:
    """Disjoint index pools, one per split, each holding every class in proportion (stratified)."""
    pools: list[list[int]] = [[] for _ in shares]
    bounds = np.cumsum(shares)[:-1]
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        for pool, part in zip(pools, np.split(members, (bounds * len(members)).astype(int))):
            pool.extend(part.tolist())
    return [np.array(sorted(p)) for p in pools]


def photo_bands(photos: list[np.ndarray], shares: tuple[float, ...]) -> list[list[np.ndarray]]:
    """Each photo cut into disjoint vertical bands, one per split (no split sees another's pixels)."""
    bounds = np.cumsum((0.0, *shares))
    return [[p[:, :, int(a * p.shape[2]):int(b * p.shape[2])] for p in photos] for a, b in zip(bounds[:-1], bounds[1:])]


def twin_cells(by_class: list[np.ndarray], cells: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The source digits of one twins image (from the pool's digits of each class), shuffled over the cells, and its
    label: one instance of a class twice, three more classes twice as two different instances, a fifth once (cells == 9)."""
    classes = rng.permutation(10)[:5]
    twin = rng.choice(by_class[classes[0]])
    picks = [twin, twin]
    for c in classes[1:4]:
        picks += list(rng.choice(by_class[c], size=2, replace=False))
    picks.append(rng.choice(by_class[classes[4]]))
    return np.array(picks)[rng.permutation(cells)], int(classes[0])


def compose(
    spec: DigitLookup, digits: np.ndarray, labels: np.ndarray, pool: np.ndarray, photos: list[np.ndarray], n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` composed images (N, 3, S, S) uint8, their labels, and the source digit of every cell (N, grid*grid)."""
    size, tile, m, cells = spec.image_size, spec.tile, spec.margin, spec.grid * spec.grid
    out = np.zeros((n, 3, size, size), dtype=np.uint8)
    targets = np.zeros(n, dtype=np.int64)
    sources = rng.choice(pool, size=(n, cells)) if spec.relation == "lookup" else np.zeros((n, cells), dtype=np.int64)
    by_class = [pool[labels[pool] == c] for c in range(10)]
    for i in range(n):
        if spec.relation == "twins":
            sources[i], targets[i] = twin_cells(by_class, cells, rng)
        photo = photos[rng.integers(len(photos))]
        y, x = rng.integers(photo.shape[1] - size + 1), rng.integers(photo.shape[2] - size + 1)
        canvas = spec.background * photo[:, y:y + size, x:x + size].copy()
        for cell, src in enumerate(sources[i]):
            r, c = divmod(cell, spec.grid)
            patch = canvas[:, m + r * tile:m + (r + 1) * tile, m + c * tile:m + (c + 1) * tile]
            ink = digits[src][None]
            patch[:] = (1 - ink) * patch + ink * spec.ink
        if spec.relation == "lookup":
            row, col = rng.integers(spec.grid, size=2)
            canvas[:, m + row * tile + 1:m + (row + 1) * tile - 1, : m - 1] = POINTER[:, None, None]
            canvas[:, : m - 1, m + col * tile + 1:m + (col + 1) * tile - 1] = POINTER[:, None, None]
            targets[i] = labels[sources[i, row * spec.grid + col]]
        out[i] = np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8)
    return out, targets, sources


def resize_digits(digits: np.ndarray, tile: int) -> np.ndarray:
    """The 8x8 digits resampled to `tile` x `tile` (bilinear, as drawn at a smaller scale)."""
    if tile == digits.shape[-1]:
        return digits
    from scipy.ndimage import zoom

    return np.clip(zoom(digits, (1, tile / digits.shape[1], tile / digits.shape[2]), order=1), 0, 1).astype(np.float32)


def generate(spec: DigitLookup = DigitLookup(), seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every split of the task: {split: (images uint8 N x 3 x S x S, labels, cell sources)}; same seed, same bytes."""
    digits, labels = source_digits()
    digits = resize_digits(digits, spec.tile)
    rng = np.random.default_rng(seed)
    pools = split_pools(labels, spec.pool_shares, rng)
    bands = photo_bands(source_photos(), spec.pool_shares)
    return {
        split: compose(spec, digits, labels, pool, band, n, rng)
        for split, pool, band, n in zip(SPLITS, pools, bands, spec.sizes)
    }


TASKS: dict[str, DigitLookup] = {
    "digit_lookup": DigitLookup(),
    "digit_twins": DigitLookup(relation="twins", sizes=(20000, 1000, 2000)),
}


def task_tensors(name: str, seed: int = 0, size: int | None = None):
    """A generated task as tensors: {split: (images, labels)} standardised per channel with the training split's
    statistics (resized bilinearly when `size` differs from the task's own), and those (mean, std) per channel."""
    import torch

    spec = TASKS[name]
    size = size or spec.image_size
    tensors = {}
    for split, (images, labels, _) in generate(spec, seed=seed).items():
        x = torch.from_numpy(images).float() / 255.0
        if size != spec.image_size:
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
        tensors[split] = (x, torch.from_numpy(labels))
    mean, std = tensors["train"][0].mean(dim=(0, 2, 3)), tensors["train"][0].std(dim=(0, 2, 3))
    out = {k: ((x - mean[:, None, None]) / std[:, None, None], y) for k, (x, y) in tensors.items()}
    return out, tuple(float(m) for m in mean), tuple(float(v) for v in std)
