"""Block-style specs: how a mixer and an FFN are wired into a residual block.

A block spec's `sites()` raises GenotypeError with a field path relative to the STAGE
(`block.expansion`, `ffn`, `downsample`), since its checks span the stage's fields.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from archspace.genotype.base import ChannelAct, Norm, Shape, Site, Spec, require, require_odd

if TYPE_CHECKING:
    from archspace.genotype.schema import Stage


@dataclass(frozen=True)
class BlockSites:
    """Where a block's mixer and FFN sit, and the block's output shape."""

    mixer: Site
    ffn: Site | None
    output: Shape


def _require_ffn(stage: "Stage", style: str) -> None:
    require(stage.ffn is not None, "ffn", f"the {style} block needs an ffn")


def _same_width(stage: "Stage", x: Shape, style: str) -> None:
    require(
        x.channels == stage.channels,
        "downsample",
        f"the {style} block keeps its width, but {x.channels} channels arrive at a {stage.channels}-channel stage; "
        "use a downsample layer that projects them",
    )


class MetaFormerBlock(Spec):
    """MetaFormer block: x + mixer(norm(x)), then x + ffn(norm(x)), with optional layer scale and CPE."""

    kind: Literal["metaformer"] = "metaformer"
    layer_scale: float | None = Field(None, gt=0, description="initial layer-scale value; None disables it")
    layer_scale_bias: bool = Field(False, description="layer scale with a per-channel bias, gamma * x + beta (TransXNet's official code)")
    mixer_norm: Norm | None = Field(None, description="norm before the mixer; None uses the stage norm")
    ffn_norm: Norm | None = Field(None, description="norm before the FFN; None uses the stage norm")
    cpe_kernel: int | None = Field(None, ge=1, description="residual depthwise-conv position encoding in front of the block")
    pos_embed: bool = Field(False, description="learnable absolute position embedding (C, H, W) added in front of the stage's first block (U-PVT)")

    def sites(self, stage: "Stage", index: int, x: Shape, stride: int) -> BlockSites:
        _require_ffn(stage, "metaformer")
        _same_width(stage, x, "metaformer")
        require(stride == 1, "block.kind", "the metaformer block cannot stride; use a downsample layer")
        require_odd(self.cpe_kernel, "block.cpe_kernel")
        require(not self.layer_scale_bias or self.layer_scale is not None, "block.layer_scale_bias", "needs a layer_scale")
        site = Site(x, x.channels, 1, stage.norm, stage.act, index)
        return BlockSites(site, site, x)


class ConvNeXtBlock(Spec):
    """ConvNeXt block: x + gamma * ffn(norm(mixer(x))), a single residual."""

    kind: Literal["convnext"] = "convnext"
    layer_scale: float | None = Field(1e-6, gt=0)

    def sites(self, stage: "Stage", index: int, x: Shape, stride: int) -> BlockSites:
        _require_ffn(stage, "convnext")
        _same_width(stage, x, "convnext")
        require(stride == 1, "block.kind", "the convnext block cannot stride; use a downsample layer")
        site = Site(x, x.channels, 1, stage.norm, stage.act, index)
        return BlockSites(site, site, x)


class BottleneckBlock(Spec):
    """ResNet bottleneck: 1x1 reduce, the mixer at width C/expansion (strided), 1x1 expand, projected shortcut."""

    kind: Literal["bottleneck"] = "bottleneck"
    expansion: int = Field(4, ge=1, description="bottleneck width = channels / expansion; must divide the channels")

    def sites(self, stage: "Stage", index: int, x: Shape, stride: int) -> BlockSites:
        require(stage.ffn is None, "ffn", "the bottleneck block has no ffn; remove it")
        require(stage.channels % self.expansion == 0, "block.expansion", f"{self.expansion} does not divide {stage.channels} channels")
        width = stage.channels // self.expansion
        site = Site(x.with_(channels=width), width, stride, stage.norm, stage.act, index)
        out = site.out_shape.with_(channels=stage.channels)
        return BlockSites(site, None, out)


class SqueezeExcite(Spec):
    """Squeeze-and-excitation gate: hidden = max(C / reduction, min_channels)."""

    reduction: int = Field(16, ge=1)
    min_channels: int = Field(8, ge=1)
    bias: bool = True


class ResidualBlock(Spec):
    """Residual block around a width-changing mixer: act(se(mixer(x)) + shortcut(x)), shortcut projected when needed."""

    kind: Literal["residual"] = "residual"
    se: SqueezeExcite | None = None
    post_act: bool = True
    projection: bool = Field(
        True, description="a 1x1 conv + norm shortcut where the block strides or widens (ResNet); False: no shortcut there, "
        "identity only at stride 1 and equal width (MobileNetV2, as in the MobileFaceNet bottleneck an SCSC block replaces)"
    )

    def sites(self, stage: "Stage", index: int, x: Shape, stride: int) -> BlockSites:
        require(stage.ffn is None, "ffn", "the residual block has no ffn; remove it")
        site = Site(x, stage.channels, stride, stage.norm, stage.act, index)
        return BlockSites(site, None, site.out_shape)


def expanded_channels(channels: int, expansion: float) -> int:
    """Hidden width of an inverted residual: the input width times the expansion, rounded (MobileNetV2)."""
    return int(round(channels * expansion))


class InvertedResidualBlock(Spec):
    """Inverted residual with linear bottleneck (MobileNetV2 §3.3; MobileFaceNet Table 1): 1x1 expand, the mixer
    (a 3x3 depthwise conv) at the expanded width, linear 1x1 project; identity shortcut only at stride 1 and equal width."""

    kind: Literal["inverted_residual"] = "inverted_residual"
    expansion: float = Field(2.0, gt=0, description="expanded width = input channels x expansion (MobileFaceNet t = 2 or 4)")
    act: ChannelAct | None = Field(None, description="activation after the expansion and after the mixer; None uses the stage act (MobileFaceNet: prelu)")

    def sites(self, stage: "Stage", index: int, x: Shape, stride: int) -> BlockSites:
        require(stage.ffn is None, "ffn", "the inverted residual block has no ffn; remove it")
        hidden = expanded_channels(x.channels, self.expansion)
        require(hidden >= 1, "block.expansion", f"{self.expansion} leaves no expanded channels")
        site = Site(x.with_(channels=hidden), hidden, stride, stage.norm, stage.act, index)
        return BlockSites(site, None, site.out_shape.with_(channels=stage.channels))


BLOCKS = (MetaFormerBlock, ConvNeXtBlock, BottleneckBlock, ResidualBlock, InvertedResidualBlock)
