"""Norm and activation layers by genotype name, and small shared modules."""
from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from timm.layers import GroupNorm1, LayerNorm2d
from torch import nn
from torch.nn import functional as F

from archspace.genotype.base import Act, ChannelAct, Norm
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


def norm_layer(name: Norm, eps: float | None = None) -> Callable[[int], nn.Module]:
    """The class (or factory) for a channels-first norm over `channels`; `eps` sets a layernorm's (timm's default 1e-6)."""
    if eps is not None and name == "layernorm":
        return partial(LayerNorm2d, eps=eps)
    return _NORMS[name]


def act_layer(name: Act) -> type[nn.Module]:
    """The activation class by name."""
    return _ACTS[name]


def make_act(name: ChannelAct, channels: int) -> nn.Module:
    """An activation over `channels` channels: PReLU with one slope per channel (He et al. 2015, Eq. 1), else by name."""
    return nn.PReLU(channels) if name == "prelu" else _ACTS[name]()


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
        act: ChannelAct = "relu",
        padding: int | None = None,
    ):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2 if padding is None else padding, groups=groups, bias=bias),
            norm_layer(norm)(out_channels),
            make_act(act, out_channels),
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


class MapSized:
    """Mixin of an op whose layout is tied to its map size (windows, grids, patches, position tables).

    Without `dynamic` (the network's dynamic_img_size) the op takes the sizes its cells tile exactly
    (keeping each cell's size in tokens) or, for an absolute position table, only its built size, and
    refuses any other with `refuse`: one line naming the op, the size it got and the sizes it accepts.
    With `dynamic` it follows any size (zero-padding its cells as Swin / timm do, resampling tables).
    A bare op follows any size; the network sets `dynamic` from its dynamic_img_size and `op_name` to the
    module's path.
    """

    dynamic: bool = True
    op_name: str = ""

    def constrains_size(self) -> bool:
        """Whether this op takes only some input sizes when not dynamic (what `fixed_input_size` reports)."""
        return True

    def refuse(self, h: int, w: int, accepts: str) -> None:
        from archspace.errors import InputSizeError

        raise InputSizeError(
            f"{self.op_name or type(self).__name__} ({type(self).__name__}): got a {h}x{w} map, accepts {accepts}; "
            "build at your size (img_size=...), call set_input_size(), or pass dynamic_img_size=True"
        )

    def tile(self, x: torch.Tensor, mh: int, mw: int, what: str) -> torch.Tensor:
        """x itself when its sides are multiples of (mh, mw); zero-padded up to them when dynamic; else refused."""
        h, w = x.shape[-2:]
        if h % mh == 0 and w % mw == 0:
            return x
        if not self.dynamic:
            self.refuse(h, w, f"sides that are multiples of {mh}x{mw} ({what})")
        return F.pad(x, (0, (-w) % mw, 0, (-h) % mh))
