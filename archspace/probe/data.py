"""The images a probe runs on: scikit-learn's bundled digits (offline default), a generated task
(archspace.evaluate.tasks, e.g. digit_lookup: its test split) or an ImageFolder.

Images come back in pixel space [0, 1] (FGSM's epsilon is in those units); `normalize` maps them to
the network's input with the ImageNet mean/std that timm and converted checkpoints use.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from timm.data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from archspace.errors import ArchspaceError

DIGITS = "digits"


@dataclass(frozen=True)
class ProbeData:
    """`count` images (N, C, H, W) in [0, 1], their integer labels, the label count and the source name."""

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    name: str


def _channels(images: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Grey images replicated to `in_chans` channels; colour images averaged to grey when in_chans differs from 3."""
    if images.shape[1] == in_chans:
        return images
    grey = images.mean(1, keepdim=True)
    return grey.expand(-1, in_chans, -1, -1).contiguous()


def _subset(n: int, count: int, seed: int) -> torch.Tensor:
    if count < 1:
        raise ArchspaceError(f"images: must be at least 1, got {count}")
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: min(count, n)]


def load_digits_images(image_size: int, in_chans: int, count: int, seed: int = 0) -> ProbeData:
    """scikit-learn's bundled 8x8 handwritten digits (1797 real images, 10 classes), a seeded subset of
    `count`, bilinearly resized to `image_size` and replicated to `in_chans` channels."""
    from archspace.evaluate.data import digits_pixels

    images, labels = digits_pixels(image_size)
    pick = _subset(len(labels), count, seed)
    return ProbeData(_channels(images[pick], in_chans), labels[pick], 10, DIGITS)


def load_task_images(name: str, image_size: int, in_chans: int, count: int, seed: int = 0) -> ProbeData:
    """A seeded subset of a generated task's test split (pixels in [0, 1]), bilinearly resized to `image_size`."""
    from archspace.evaluate.tasks import TASKS, generate

    images, labels, _ = generate(TASKS[name])["test"]
    pick = _subset(len(labels), count, seed)
    x = torch.from_numpy(images[pick.numpy()]).float() / 255.0
    if x.shape[-1] != image_size:
        x = torch.nn.functional.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False).clamp(0, 1)
    return ProbeData(_channels(x, in_chans), torch.from_numpy(labels[pick.numpy()]), 10, name)


def is_known(data: str) -> bool:
    """'digits', a generated task's name, or an existing folder."""
    from archspace.evaluate.tasks import TASKS

    return data == DIGITS or data in TASKS or Path(data).is_dir()


def load_folder_images(root: str | Path, image_size: int, in_chans: int, count: int, seed: int = 0) -> ProbeData:
    """A seeded subset of an ImageFolder (one sub-folder per class) with the evaluation transform the
    STM-evaluation code uses: bicubic resize to image_size / 0.875, centre crop to image_size."""
    from torchvision import datasets, transforms

    if not Path(root).is_dir():
        raise ArchspaceError(f"data: {root} is neither 'digits', a generated task (digit_lookup, digit_twins) nor an image folder")
    transform = transforms.Compose([
        transforms.Resize(int(image_size / 0.875), interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
    ])
    try:
        folder = datasets.ImageFolder(str(root), transform=transform)
    except (FileNotFoundError, RuntimeError) as err:
        raise ArchspaceError(f"data: {root}: {err}") from None
    pick = _subset(len(folder), count, seed)
    pairs = [folder[int(i)] for i in pick]
    images = torch.stack([_channels(img.unsqueeze(0), in_chans)[0] for img, _ in pairs])
    labels = torch.tensor([label for _, label in pairs], dtype=torch.long)
    return ProbeData(images, labels, len(folder.classes), str(root))


def load_probe_data(data: str, image_size: int, in_chans: int, count: int, seed: int = 0) -> ProbeData:
    """'digits' (offline default), a generated task's name or the path of an ImageFolder."""
    from archspace.evaluate.tasks import TASKS

    if data == DIGITS:
        return load_digits_images(image_size, in_chans, count, seed)
    if data in TASKS:
        return load_task_images(data, image_size, in_chans, count, seed)
    return load_folder_images(data, image_size, in_chans, count, seed)


def normalize(images: torch.Tensor, mean: tuple[float, ...] = IMAGENET_DEFAULT_MEAN, std: tuple[float, ...] = IMAGENET_DEFAULT_STD) -> torch.Tensor:
    """Pixel-space images to network input: (x - mean) / std per channel (a grey model uses the channel average)."""
    c = images.shape[1]
    if len(mean) != c:
        mean, std = (sum(mean) / len(mean),) * c, (sum(std) / len(std),) * c
    m = torch.tensor(mean, dtype=images.dtype, device=images.device).view(1, c, 1, 1)
    s = torch.tensor(std, dtype=images.dtype, device=images.device).view(1, c, 1, 1)
    return (images - m) / s
