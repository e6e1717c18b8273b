"""Adversarial robustness under the fast gradient sign method (STM-evaluation §6.3, Fig. 8; Goodfellow et al. 2015).

x_adv = clip(x + eps * sign(grad_x CE(f(x), y)), 0, 1) in pixel space, one step per image; the paper's
strengths are eps = 8/255, 2/255 and 0.5/255. Clean accuracy is on the untouched images.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from archspace.errors import ArchspaceError

EPSILONS = (0.5, 2.0, 8.0)  # in units of 1/255


def eps_name(eps255: float) -> str:
    """'2/255', '0.5/255', '8/255'."""
    return f"{eps255:g}/255"


def attack_sign(model, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """sign(grad_x CE(f(x), y)) of `model` (eval mode, pixel-space input) at `images`."""
    x = images.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels)
    (grad,) = torch.autograd.grad(loss, x, allow_unused=True) if loss.requires_grad else (None,)
    if grad is None:
        raise ArchspaceError("fgsm: the model's output does not depend on its input (detached input); no attack gradient")
    return grad.sign()


def fgsm_images(images: torch.Tensor, sign: torch.Tensor, eps: float) -> torch.Tensor:
    """One FGSM step of size `eps` (pixel units), clipped to the valid range [0, 1]."""
    return (images + eps * sign).clamp(0, 1)


@torch.no_grad()
def _correct(model, images: torch.Tensor, labels: torch.Tensor) -> int:
    return int((model(images).argmax(1) == labels).sum())


@dataclass(frozen=True)
class FGSMResult:
    """Clean accuracy and adversarial accuracy per epsilon (keys: eps in 1/255 units)."""

    clean: float
    adversarial: dict[float, float]

    def to_dict(self) -> dict:
        return {"clean_acc": self.clean, "adversarial_acc": {eps_name(e): a for e, a in sorted(self.adversarial.items())}}


def check_labels(labels: torch.Tensor, num_classes: int, what: str) -> None:
    """Labels must index the model's classes, or accuracies mean nothing."""
    top = int(labels.max()) if len(labels) else -1
    if top >= num_classes:
        raise ArchspaceError(f"{what}: the data has label {top} but the model predicts {num_classes} classes; use data whose labels fit the head")


def fgsm(model, images: torch.Tensor, labels: torch.Tensor, epsilons: Sequence[float] = EPSILONS, batch: int = 16) -> FGSMResult:
    """Clean and FGSM accuracy of `model` at each eps (in 1/255 units) on labelled pixel-space images."""
    clean, adversarial = 0, {e: 0 for e in epsilons}
    for x, y in zip(images.split(batch), labels.split(batch)):
        clean += _correct(model, x, y)
        sign = attack_sign(model, x, y)
        for e in epsilons:
            adversarial[e] += _correct(model, fgsm_images(x, sign, e / 255), y)
    n = len(images)
    return FGSMResult(clean / n, {e: c / n for e, c in adversarial.items()})
