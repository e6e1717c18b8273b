"""Closed forms of the ConTNet ops: the patch-wise encoders and the ConT block."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, closed_form, conv, cost_of, linear, matmul, norm
from archspace.genotype.base import Site
from archspace.genotype.plan import BlockPlan
from archspace.genotype.schema import Stage
from archspace.genotype.specs.cont import ContBlockSpec, ContMixer


def _pos_embed_params(kind: str, patch: int, channels: int) -> int:
    return {"split": patch * channels, "full": patch * patch * channels, "none": 0}[kind]


def attention_matmuls(spec: ContMixer, site: Site) -> Cost:
    """QK^T and AV of every encoder: 2 * tokens * P^2 * C each (what ConTNet's own count leaves out)."""
    c, (h, w) = site.channels, site.shape.resolution
    return sum((matmul(h * w, c, p * p) * 2 for p in spec.patches), Cost())


@closed_form(ContMixer)
def cont_mixer(spec: ContMixer, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    n, hidden = h * w, spec.hidden(c)
    encoder = (
        linear(c, 3 * c, n, bias=spec.qkv_bias)
        + linear(c, c, n)
        + linear(c, hidden, n)
        + linear(hidden, c, n)
        + norm("layernorm", c, h, w) * 2
    )
    cost = sum((encoder + Cost(_pos_embed_params(spec.pos_embed, p, c), 0) for p in spec.patches), Cost())
    return cost + attention_matmuls(spec, site)


@closed_form(ContBlockSpec)
def cont_block(spec: ContBlockSpec, stage: Stage, block: BlockPlan) -> Cost:
    x, o = block.input, block.output
    kernel, stride, _ = spec.conv(stage, block.index)
    cost = norm(stage.norm, x.channels, x.height, x.width) + cost_of(stage.mixer, block.mixer)
    cost = cost + conv(x.channels, o.channels, kernel, o.height, o.width)
    if x.channels != o.channels or stride != 1:
        cost = cost + conv(x.channels, o.channels, 1, o.height, o.width)
    return cost
