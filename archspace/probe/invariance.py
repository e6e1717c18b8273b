"""Translation, rotation and scale invariance (STM-evaluation §6.2, Fig. 7).

Each transform is swept over the paper's range: translation jitter 0-64 px at 224 px (scaled to the
input size; each image shifted in one of the 8 directions, cycling, zero fill, as the STM-evaluation
position-jitter crop), rotation 0-45 deg in steps of 5, scale 0.25-3.0 in steps of 0.25 (zoom about
the centre, cropped or zero-padded back to the input size). At every value the probe reports the
prediction consistency of [48] (Zhang 2019: the share of images whose predicted label equals the one
on the untransformed image), the cosine similarity of the pooled features with the untransformed
ones (meaningful without labels or trained weights), and the accuracy when labels fit the head.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

TRANSFORMS = ("translation", "rotation", "scale")
IDENTITY = {"translation": 0.0, "rotation": 0.0, "scale": 1.0}
UNITS = {"translation": "px", "rotation": "deg", "scale": "x"}
DIRECTIONS = ((1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (-1, 1), (-1, -1), (1, -1))


def default_values(transform: str, image_size: int) -> list[float]:
    """The paper's sweep: translation 0..64 px at 224 (step 8, scaled to image_size), rotation 0..45 deg, scale 0.25..3."""
    if transform == "translation":
        return sorted({float(round(p * image_size / 224)) for p in range(0, 65, 8)})
    if transform == "rotation":
        return [float(a) for a in range(0, 46, 5)]
    if transform == "scale":
        return [s / 4 for s in range(1, 13)]
    raise ValueError(f"transform: must be one of {TRANSFORMS}, got {transform!r}")


def shift(images: torch.Tensor, dy: int, dx: int, wrap: bool = False) -> torch.Tensor:
    """Move the content by (dy, dx) pixels: vacated pixels are zero, or wrap around (circular shift) with `wrap`."""
    if wrap:
        return torch.roll(images, (dy, dx), dims=(-2, -1))
    h, w = images.shape[-2:]
    out = torch.zeros_like(images)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[..., max(dy, 0): h + min(dy, 0), max(dx, 0): w + min(dx, 0)] = images[..., max(-dy, 0): h + min(-dy, 0), max(-dx, 0): w + min(-dx, 0)]
    return out


def translate(images: torch.Tensor, pixels: int, wrap: bool = False) -> torch.Tensor:
    """Image i moved by `pixels` in direction i mod 8 (the 4 axis and 4 diagonal directions)."""
    out = images.clone()
    for k, (dy, dx) in enumerate(DIRECTIONS):
        out[k::8] = shift(images[k::8], dy * pixels, dx * pixels, wrap)
    return out


def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotation about the centre (bilinear, zero fill)."""
    return TF.rotate(images, degrees, interpolation=InterpolationMode.BILINEAR, fill=0.0)


def scale(images: torch.Tensor, factor: float) -> torch.Tensor:
    """Zoom about the centre by `factor` (antialiased resize), centre-cropped or zero-padded back to the input size."""
    h, w = images.shape[-2:]
    nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
    resized = F.interpolate(images, size=(nh, nw), mode="bilinear", align_corners=False, antialias=factor < 1).clamp(0, 1)
    return TF.center_crop(resized, [h, w])  # pads with zeros when smaller


def apply(transform: str, images: torch.Tensor, value: float, wrap: bool = False) -> torch.Tensor:
    if transform == "translation":
        return translate(images, int(value), wrap)
    if transform == "rotation":
        return rotate(images, value)
    if transform == "scale":
        return scale(images, value)
    raise ValueError(f"transform: must be one of {TRANSFORMS}, got {transform!r}")


@torch.no_grad()
def pooled_and_logits(model, images: torch.Tensor, batch: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features (the classifier's input: forward_head with pre_logits) and logits of a timm-API model."""
    pooled, logits = [], []
    for chunk in images.split(batch):
        p = model.forward_head(model.forward_features(chunk), pre_logits=True)
        pooled.append(p)
        logits.append(model.get_classifier()(p))
    return torch.cat(pooled), torch.cat(logits)


@dataclass(frozen=True)
class InvarianceCurve:
    """One transform's sweep: per value, prediction agreement, feature cosine and (with labels) accuracy."""

    transform: str
    values: list[float]
    agreement: list[float]
    cosine: list[float]
    accuracy: list[float] | None
    predicted_classes: int  # distinct labels predicted on the untransformed images (1: agreement is trivially 1)

    def mean(self, what: str = "agreement") -> float:
        """Mean of a series over the sweep, the untransformed value left out."""
        series = getattr(self, what)
        kept = [s for v, s in zip(self.values, series) if v != IDENTITY[self.transform]]
        return sum(kept) / len(kept) if kept else float("nan")

    def to_dict(self) -> dict:
        return {"transform": self.transform, "unit": UNITS[self.transform], "values": self.values, "agreement": self.agreement,
                "cosine": self.cosine, "accuracy": self.accuracy, "mean_agreement": self.mean("agreement"),
                "mean_cosine": self.mean("cosine"), "mean_accuracy": self.mean("accuracy") if self.accuracy else None,
                "predicted_classes": self.predicted_classes}


def sweep(model, images: torch.Tensor, transform: str, values: Sequence[float], labels: torch.Tensor | None = None,
          batch: int = 16, wrap: bool = False) -> InvarianceCurve:
    """Consistency of `model` (eval mode, pixel-space input) under `transform` at each of `values`."""
    ref_pooled, ref_logits = pooled_and_logits(model, images, batch)
    ref_pred = ref_logits.argmax(1)
    agreement, cosine, accuracy = [], [], []
    for value in values:
        if value == IDENTITY[transform]:
            pooled, logits = ref_pooled, ref_logits
        else:
            pooled, logits = pooled_and_logits(model, apply(transform, images, value, wrap), batch)
        pred = logits.argmax(1)
        agreement.append(float((pred == ref_pred).float().mean()))
        cosine.append(float(F.cosine_similarity(pooled.double(), ref_pooled.double(), dim=1).mean()))
        if labels is not None:
            accuracy.append(float((pred == labels).float().mean()))
    return InvarianceCurve(transform, [float(v) for v in values], agreement, cosine, accuracy if labels is not None else None,
                           int(ref_pred.unique().numel()))


def invariance(model, images: torch.Tensor, labels: torch.Tensor | None = None, transforms: Sequence[str] = TRANSFORMS,
               batch: int = 16) -> dict[str, InvarianceCurve]:
    """Every transform's sweep over the paper's default range at the images' size."""
    size = images.shape[-1]
    return {t: sweep(model, images, t, default_values(t, size), labels, batch) for t in transforms}
