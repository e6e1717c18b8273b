"""Closed forms of the local-attention mixers (Swin window attention, halo attention)."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, closed_form, conv, linear, matmul
from archspace.genotype.base import Site
from archspace.genotype.specs.window import HaloMixer, SwinMixer


@closed_form(SwinMixer)
def swin(spec: SwinMixer, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    (wh, ww), _ = spec.window_at(site)
    tokens, n = h * w, wh * ww
    windows, d = tokens // n, c // spec.heads
    cost = linear(c, 3 * c, tokens, bias=spec.qkv_bias) + linear(c, c, tokens)
    cost = cost + matmul(n, d, n, windows * spec.heads) * 2  # QK^T and AV
    if spec.rel_pos_bias:
        cost = cost + Cost((2 * wh - 1) * (2 * ww - 1) * spec.heads, 0)
    return cost


@closed_form(HaloMixer)
def halo(spec: HaloMixer, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    bh, bw = spec.block_at(site)
    wh, ww = bh + 2 * spec.halo, bw + 2 * spec.halo
    d, blocks = c // spec.heads, (h // bh) * (w // bw) * spec.heads
    cost = conv(c, c, 1, h, w, bias=spec.qkv_bias) + conv(c, 2 * c, 1, h, w, bias=spec.qkv_bias) + conv(c, c, 1, h, w, bias=True)
    cost = cost + matmul(bh * bw, d, wh * ww, blocks) * 2  # QK^T and AV
    table = 2 * (bh + spec.halo) - 1 + 2 * (bw + spec.halo) - 1  # relative offsets, rows + columns
    return cost + matmul(bh * bw, d, table, blocks) + Cost(table * d, 0)  # q.r over both tables
