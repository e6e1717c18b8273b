"""Norm and activation layers by genotype name, and small shared modules."""
from __future__ import annotations

from typing import Callable

import torch
from timm.layers import GroupNorm1, LayerNorm2d
from torch import nn
from torch.nn import functional as F

from archspace.genotype.base import Act, Norm
from archspace.genotype.specs.blocks import SqueezeExcite

_NORMS: dict[str, Callable[[int], nn.Module]] = {
    "batchnorm": nn.BatchNorm2d,
    "layernorm": LayerNorm2d,
    "groupnorm": GroupNorm1,
    "none": lambda channels: nn.Identity(),
}

_ACTS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "hardswish": nn.Hardswish,
    "sigmoid": nn.Sigmoid,
    "none": nn.Identity,
}


def norm_layer(name: Norm) -> Callable[[int], nn.Module]:
    """The class (or factory) for a channels-first norm over `channels`."""
    return _NORMS[name]


def act_layer(name: Act) -> type[nn.Module]:
    """The activation class by name."""
    return _ACTS[name]


class ConvNormAct(nn.Sequential):
    """Conv2d, norm, activation: the unit most stems and blocks are made of."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 1,
        stride: int = 1,
        groups: int = 1,
        bias: bool = False,
        norm: Norm = "batchnorm",
        act: Act = "relu",
        padding: int | None = None,
    ):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2 if padding is None else padding, groups=groups, bias=bias),
            norm_layer(norm)(out_channels),
            act_layer(act)(),
        )


class SE(nn.Module):
    """Squeeze-and-excitation (Hu et al. Eq. 2-3): x * sigmoid(W2 relu(W1 avgpool(x)))."""

    def __init__(self, channels: int, spec: SqueezeExcite):
        super().__init__()
        hidden = max(channels // spec.reduction, spec.min_channels)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=spec.bias)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=spec.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(F.adaptive_avg_pool2d(x, 1)))))
