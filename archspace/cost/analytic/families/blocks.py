"""Closed forms of the block styles (each includes its mixer's and FFN's cost)."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, act, avg_pool, closed_form, conv, cost_of, norm
from archspace.genotype.plan import BlockPlan
from archspace.genotype.schema import Stage
from archspace.genotype.specs.blocks import BottleneckBlock, ConvNeXtBlock, InvertedResidualBlock, MetaFormerBlock, ResidualBlock


def _shortcut(block: BlockPlan, norm_kind: str) -> Cost:
    if block.input.channels == block.output.channels and block.stride == 1:
        return Cost()
    o = block.output
    return conv(block.input.channels, o.channels, 1, o.height, o.width) + norm(norm_kind, o.channels, o.height, o.width)


@closed_form(MetaFormerBlock)
def metaformer(spec: MetaFormerBlock, stage: Stage, block: BlockPlan) -> Cost:
    x = block.input
    c, h, w = x.channels, x.height, x.width
    cost = cost_of(stage.mixer, block.mixer) + cost_of(stage.ffn, block.ffn)
    cost = cost + norm(spec.mixer_norm or stage.norm, c, h, w) + norm(spec.ffn_norm or stage.norm, c, h, w)
    if spec.cpe_kernel:
        cost = cost + conv(c, c, spec.cpe_kernel, h, w, groups=c, bias=True)
    if spec.layer_scale is not None:
        cost = cost + Cost((4 if spec.layer_scale_bias else 2) * c, 0)
    if spec.pos_embed and block.index == 0:
        cost = cost + Cost(c * h * w, 0).tagged("pos_embed_params", params=True)
    return cost


@closed_form(ConvNeXtBlock)
def convnext(spec: ConvNeXtBlock, stage: Stage, block: BlockPlan) -> Cost:
    x = block.input
    cost = cost_of(stage.mixer, block.mixer) + norm(stage.norm, x.channels, x.height, x.width) + cost_of(stage.ffn, block.ffn)
    return cost + (Cost(x.channels, 0) if spec.layer_scale is not None else Cost())


@closed_form(BottleneckBlock)
def bottleneck(spec: BottleneckBlock, stage: Stage, block: BlockPlan) -> Cost:
    x, o, width = block.input, block.output, block.mixer.channels
    return (
        conv(x.channels, width, 1, x.height, x.width)
        + norm(stage.norm, width, x.height, x.width)
        + cost_of(stage.mixer, block.mixer)
        + norm(stage.norm, width, o.height, o.width)
        + conv(width, o.channels, 1, o.height, o.width)
        + norm(stage.norm, o.channels, o.height, o.width)
        + _shortcut(block, stage.norm)
    )


@closed_form(ResidualBlock)
def residual(spec: ResidualBlock, stage: Stage, block: BlockPlan) -> Cost:
    o = block.output
    cost = cost_of(stage.mixer, block.mixer) + (_shortcut(block, stage.norm) if spec.projection else Cost())
    if spec.se is not None:
        hidden = max(o.channels // spec.se.reduction, spec.se.min_channels)
        cost = cost + avg_pool(o.channels, o.height, o.width)
        cost = cost + conv(o.channels, hidden, 1, 1, 1, bias=spec.se.bias) + conv(hidden, o.channels, 1, 1, 1, bias=spec.se.bias)
    return cost


@closed_form(InvertedResidualBlock)
def inverted_residual(spec: InvertedResidualBlock, stage: Stage, block: BlockPlan) -> Cost:
    x, o, hidden = block.input, block.output, block.mixer.channels
    kind = spec.act or stage.act
    return (
        conv(x.channels, hidden, 1, x.height, x.width) + norm(stage.norm, hidden, x.height, x.width) + act(kind, hidden)
        + cost_of(stage.mixer, block.mixer) + norm(stage.norm, hidden, o.height, o.width) + act(kind, hidden)
        + conv(hidden, o.channels, 1, o.height, o.width) + norm(stage.norm, o.channels, o.height, o.width)
    )
