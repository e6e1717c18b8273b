"""Closed forms of the TransXNet ops: D-Mixer (OSRA, IDConv, STE) and MS-FFN."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, avg_pool, closed_form, conv, matmul, norm
from archspace.genotype.base import Site
from archspace.genotype.specs.dmixer import DMixer, MSFFN, kv_size, osr_kernel, split_channels
from archspace.genotype.specs.ffn import hidden_channels


def idconv(spec: DMixer, c: int, h: int, w: int) -> Cost:
    """Pool to KxK, the 1x1 MLP on the KxK map, the G-way kernel mix (a matmul), the per-sample KxK depthwise conv."""
    k, g, hidden = spec.idconv_kernel, spec.idconv_groups, c // spec.idconv_reduction
    attention = avg_pool(c, h, w) + conv(c, hidden, 1, k, k) + norm(spec.norm, hidden, k, k) + conv(hidden, g * c, 1, k, k, bias=True)
    kernels = Cost(g * c * k * k, 0) + matmul(1, g, 1, batch=c * k * k)
    applied = Cost(0, conv(c, c, k, h, w, groups=c).flops)  # the weights are generated, not parameters
    cost = attention + kernels + applied
    if spec.idconv_bias:  # the same MLP on the global mean (no new weights), G bias vectors mixed per channel
        mlp_flops = conv(c, hidden, 1, 1, 1).flops + norm(spec.norm, hidden, 1, 1).flops + conv(hidden, g * c, 1, 1, 1).flops
        cost = cost + avg_pool(c, h, w) + Cost(g * c, mlp_flops) + matmul(1, g, 1, batch=c)
    return cost


def pos_bias_params(spec: DMixer, site: Site, n: int, n_kv: int) -> int:
    """heads x N x N_kv, counted once per stage when the stage's blocks share it."""
    if spec.pos_bias == "none" or (spec.pos_bias == "stage" and site.index > 0):
        return 0
    return spec.heads * n * n_kv


def osra(spec: DMixer, site: Site, c: int, h: int, w: int) -> Cost:
    """Q, the overlapping reduction + norm (+ 1x1 DW + norm), local refinement, KV, QK^T and AV, the position bias."""
    kh, kw = kv_size(h, w, spec.sr_stride)
    n, n_kv, d = h * w, kh * kw, c // spec.heads
    cost = conv(c, c, 1, h, w, bias=spec.qkv_bias)
    if spec.sr_stride > 1:
        cost = cost + conv(c, c, osr_kernel(spec.sr_stride), kh, kw, groups=c) + norm(spec.norm, c, kh, kw)
        if spec.sr_refine:
            cost = cost + conv(c, c, 1, kh, kw, groups=c) + norm(spec.norm, c, kh, kw)
    cost = cost + conv(c, c, 3, kh, kw, groups=c, bias=True) + conv(c, 2 * c, 1, kh, kw, bias=spec.qkv_bias)
    cost = cost + matmul(n, d, n_kv, batch=spec.heads) + matmul(n, n_kv, d, batch=spec.heads)
    return cost + Cost(pos_bias_params(spec, site, n, n_kv), 0)


def ste(spec: DMixer, c: int, h: int, w: int) -> Cost:
    inner = spec.ste_channels(c)
    return (
        conv(c, c, 3, h, w, groups=c, bias=True)
        + norm(spec.norm, c, h, w)
        + conv(c, inner, 1, h, w, bias=True)
        + norm(spec.norm, inner, h, w)
        + conv(inner, c, 1, h, w, bias=True)
        + norm(spec.norm, c, h, w)
    )


@closed_form(DMixer)
def dmixer(spec: DMixer, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    attn, local = split_channels(c, spec.attn_ratio)
    return osra(spec, site, attn, h, w) + idconv(spec, local, h, w) + ste(spec, c, h, w)


@closed_form(MSFFN)
def msffn(spec: MSFFN, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    hidden = hidden_channels(c, spec.ratio)
    share = hidden // len(spec.scales)
    cost = conv(c, hidden, 1, h, w) + norm(spec.norm, hidden, h, w)
    for k in spec.scales:
        cost = cost + conv(share, share, k, h, w, groups=share, bias=True)
    return cost + norm(spec.norm, hidden, h, w) + conv(hidden, c, 1, h, w) + norm(spec.norm, c, h, w)
