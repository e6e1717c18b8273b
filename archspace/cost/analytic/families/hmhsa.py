"""Closed forms of the TransCNN family: global MHSA, H-MHSA, TDB.

Softmax, the scale and max pooling count 0; average pooling counts its kernel area per output
element (one per input element here, kernel = stride); nearest upsampling one per output element.
"""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, avg_pool, closed_form, conv, matmul, norm
from archspace.genotype.base import Shape, Site
from archspace.genotype.specs.hmhsa import HMHSAMixer, Level, MHSAMixer, TDBDownsample


def grid_attention(channels: int, heads: int, level: Level) -> Cost:
    """QK^T and AV inside each grid cell: 2 x cells x heads x (query tokens x d x key tokens)."""
    cells = level.windows[0] * level.windows[1]
    d = channels // heads
    return matmul(level.query_tokens, d, level.key_tokens, batch=cells * heads) * 2


@closed_form(MHSAMixer)
def mhsa(spec: MHSAMixer, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    whole = Level(1, (h, w), (1, 1), (h, w))
    return conv(c, 3 * c, 1, h, w, bias=spec.qkv_bias) + grid_attention(c, spec.num_heads(c), whole) + conv(c, c, 1, h, w, bias=spec.proj_bias)


@closed_form(HMHSAMixer)
def hmhsa(spec: HMHSAMixer, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    heads, levels = spec.num_heads(c), spec.levels(site.shape)
    level_norm = site.norm if spec.level_norm else "none"
    cost = norm(site.norm if spec.input_norm else "none", c, h, w)
    cost = cost + conv(c, 3 * c, 1, h, w, bias=spec.qkv_bias) + grid_attention(c, heads, levels[0])
    for i, level in enumerate(levels):
        qh, qw = level.queries
        if i > 0:
            kh, kw = level.keys
            if spec.pooling != "max":
                cost = cost + avg_pool(c, kh * level.pool, kw * level.pool)
            cost = cost + norm(level_norm, c, kh, kw) + conv(c, 2 * c, 1, kh, kw, bias=spec.qkv_bias)
            cost = cost + conv(c, c, 1, qh, qw, bias=spec.qkv_bias) + grid_attention(c, heads, level)
            if spec.query == "pooled":
                cost = cost + Cost(0, c * h * w)  # nearest upsampling back to the full map
        if i < len(levels) - 1:
            cost = cost + norm(level_norm, c, qh, qw)
    return cost + conv(c, c, 1, h, w, bias=spec.proj_bias)


@closed_form(TDBDownsample)
def tdb(spec: TDBDownsample, x: Shape, out: Shape) -> Cost:
    c, h, w = out.channels, out.height, out.width
    cost = conv(x.channels, c, 3, h, w, bias=spec.bias) + conv(x.channels, c, 1, h, w, bias=spec.bias) + norm(spec.norm, c, h, w) * 2
    return cost + (avg_pool(x.channels, x.height, x.width) if spec.pool == "avg" else Cost())
