"""Downsampling layers between stages."""
from __future__ import annotations

import torch
from torch import nn

from archspace.genotype.base import Shape
from archspace.genotype.specs.downsample import ConvDownsample, InBlockDownsample, NoDownsample, PatchMerge
from archspace.ops.layers import MapSized, norm_layer
from archspace.ops.registry import register


class PatchMerging(MapSized, nn.Module):
    """Swin patch merging (Liu et al. §3.1): concat 2x2 neighbours -> LN(4C) -> Linear(4C, C_out, no bias); pads an odd map when dynamic (timm)."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "layernorm"):
        super().__init__()
        self.norm = nn.LayerNorm(4 * in_channels) if norm == "layernorm" else norm_layer(norm)(4 * in_channels)
        self.reduction = nn.Linear(4 * in_channels, out_channels, bias=False)
        self.channels_last_norm = norm == "layernorm"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.tile(x, 2, 2, "2x2 neighbours")
        b, c, h, w = x.shape
        x = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 5, 3, 1).reshape(b, h // 2, w // 2, 4 * c)
        if self.channels_last_norm:
            x = self.norm(x)
        else:
            x = self.norm(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.reduction(x).permute(0, 3, 1, 2)


@register(NoDownsample, InBlockDownsample)
def build_identity(spec, x: Shape, out: Shape) -> nn.Module:
    return nn.Identity()


@register(ConvDownsample)
def build_conv_downsample(spec: ConvDownsample, x: Shape, out: Shape) -> nn.Module:
    """Strided conv transition (overlapped 3x3 s2: PVTv2 / STM; 2x2 s2 with pre-LN: ConvNeXt §2.6)."""
    conv = nn.Conv2d(x.channels, out.channels, spec.kernel, spec.stride, spec.pad, bias=spec.bias)
    if spec.norm_position == "pre":
        return nn.Sequential(norm_layer(spec.norm)(x.channels), conv)
    return nn.Sequential(conv, norm_layer(spec.norm)(out.channels))


@register(PatchMerge)
def build_patch_merge(spec: PatchMerge, x: Shape, out: Shape) -> nn.Module:
    return PatchMerging(x.channels, out.channels, spec.norm)
