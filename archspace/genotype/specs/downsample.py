"""Downsample specs: the transition layer in front of a stage."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspace.genotype.base import Norm, Shape, Spec, conv_out, require


class NoDownsample(Spec):
    """No transition layer: the stage keeps the incoming resolution."""

    kind: Literal["none"] = "none"
    block_stride: Literal[1] = 1

    def output(self, x: Shape, channels: int) -> Shape:
        return x


class InBlockDownsample(Spec):
    """No separate layer: the stage's first block strides and projects its shortcut (ResNet style)."""

    kind: Literal["in_block"] = "in_block"
    block_stride: int = Field(2, ge=1)

    def output(self, x: Shape, channels: int) -> Shape:
        return x


class ConvDownsample(Spec):
    """A strided conv with an optional norm before (ConvNeXt) or after (PVT, STM) it."""

    kind: Literal["conv"] = "conv"
    kernel: int = Field(3, ge=1)
    stride: int = Field(2, ge=1)
    padding: int | None = Field(None, ge=0, description="defaults to kernel // 2")
    bias: bool = True
    norm: Norm = "none"
    norm_position: Literal["pre", "post"] = "post"
    block_stride: Literal[1] = 1

    @property
    def pad(self) -> int:
        return self.kernel // 2 if self.padding is None else self.padding

    def output(self, x: Shape, channels: int) -> Shape:
        require(x.height >= self.kernel - 2 * self.pad, "kernel", f"{self.kernel} is larger than the {x.height}x{x.width} map")
        return Shape(channels, conv_out(x.height, self.kernel, self.stride, self.pad), conv_out(x.width, self.kernel, self.stride, self.pad))


class PatchMerge(Spec):
    """Swin patch merging: concatenate 2x2 neighbours, LayerNorm(4C), Linear(4C -> C_out, no bias)."""

    kind: Literal["patch_merge"] = "patch_merge"
    norm: Norm = "layernorm"
    block_stride: Literal[1] = 1

    def output(self, x: Shape, channels: int) -> Shape:
        require(x.height % 2 == 0 and x.width % 2 == 0, "kind", f"patch merging needs an even map, got {x.height}x{x.width}")
        return Shape(channels, x.height // 2, x.width // 2)


DOWNSAMPLES = (NoDownsample, InBlockDownsample, ConvDownsample, PatchMerge)
