"""Effective receptive field (STM-evaluation §6.1, with the ERF toolbox of Luo et al. 2016 / RepLKNet).

For every stage, the gradient of the stage output's centre unit (ReLU of the centre pixel, summed over
channels) with respect to the network input, ReLU'd and summed over input channels, averaged over the
images: one gradient-norm map per stage at the input's size. ERF@50 is the side of the smallest square
centred on the input that holds 50% of the map's sum, as a ratio of the input side (the paper's
"square length-to-input size ratio").
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from archspace.errors import ArchspaceError

StageFn = Callable[[torch.Tensor], Sequence[torch.Tensor]]
FRACTIONS = (0.2, 0.5, 0.99)


@dataclass(frozen=True)
class StageERF:
    """One stage's averaged gradient map (H, W of the input) and its ERF side ratios per fraction of the map's sum."""

    stage: int
    map: torch.Tensor
    sides: dict[float, float]

    @property
    def erf50(self) -> float:
        return self.sides[0.5]

    def to_dict(self) -> dict:
        return {"stage": self.stage, "erf50": self.erf50, "sides": {str(k): v for k, v in self.sides.items()},
                "map_sum": float(self.map.sum()), "input_size": list(self.map.shape)}


def stage_outputs(model) -> StageFn:
    """The stage pyramid of a timm-API network (forward_intermediates)."""
    return lambda x: model.forward_intermediates(x, intermediates_only=True)


def gradient_maps(stages: StageFn, inputs: torch.Tensor, batch: int = 8) -> list[torch.Tensor]:
    """Per stage, the input-gradient map of the stage output's centre unit averaged over `inputs` (N, C, H, W).

    The network must be in eval mode (images in a batch then do not interact). A stage whose centre unit
    does not depend on the input is refused: a detached input or an all-zero map has no ERF.
    """
    sums: list[torch.Tensor] | None = None
    for chunk in inputs.split(batch):
        x = chunk.detach().clone().requires_grad_(True)
        outputs = list(stages(x))
        if sums is None:
            sums = [torch.zeros(x.shape[-2:], dtype=torch.float64) for _ in outputs]
        for i, out in enumerate(outputs):
            if not out.requires_grad:
                raise ArchspaceError(f"erf: stage {i + 1} output does not depend on the input (the model detaches its input); no gradient map")
            centre = F.relu(out[:, :, out.shape[-2] // 2, out.shape[-1] // 2]).sum()
            (grad,) = torch.autograd.grad(centre, x, retain_graph=i < len(outputs) - 1, allow_unused=True)
            if grad is None:
                raise ArchspaceError(f"erf: stage {i + 1} output does not depend on the input (the model detaches its input); no gradient map")
            sums[i] += F.relu(grad).sum((0, 1)).double().cpu()
    assert sums is not None
    maps = [s / len(inputs) for s in sums]
    for i, m in enumerate(maps):
        if not float(m.sum()) > 0:
            raise ArchspaceError(f"erf: stage {i + 1} has a zero gradient map (its centre unit does not depend on the input, or is inactive on every image)")
    return [m.float() for m in maps]


def erf_side(grad_map: torch.Tensor, fraction: float = 0.5) -> float:
    """Side of the smallest square centred at (H//2, W//2) holding `fraction` of the map's sum, over the input height."""
    grad_map = grad_map.double()
    h, w = grad_map.shape
    total = float(grad_map.sum())
    ch, cw = h // 2, w // 2
    for r in range(max(h, w)):
        inside = float(grad_map[max(ch - r, 0): ch + r + 1, max(cw - r, 0): cw + r + 1].sum())
        if inside >= fraction * total * (1 - 1e-9):
            return min(2 * r + 1, h) / h
    return 1.0


def erf(stages: StageFn, inputs: torch.Tensor, batch: int = 8, fractions: Sequence[float] = FRACTIONS) -> list[StageERF]:
    """The ERF of every stage: averaged gradient map and its centred-square side ratios (ERF@50 among them)."""
    fractions = tuple(sorted({*fractions, 0.5}))
    return [StageERF(i + 1, m, {f: erf_side(m, f) for f in fractions}) for i, m in enumerate(gradient_maps(stages, inputs, batch))]
