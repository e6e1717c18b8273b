"""Closed forms of the global-attention family: spatial-reduction attention and the PVTv2 conv FFN."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, closed_form, conv, linear, matmul, norm
from archspace.genotype.base import Site
from archspace.genotype.specs.attention import ConvMLPFFN, SRAMixer
from archspace.genotype.specs.ffn import hidden_channels


def sra_matmuls(spec: SRAMixer, site: Site) -> Cost:
    """The two attention products, Q K^T and A V: what module-hook counters (and U-PVT's table) leave out."""
    c, (h, w) = site.channels, site.shape.resolution
    n, m, d = h * w, (h // spec.sr) * (w // spec.sr), c // spec.heads
    return matmul(n, d, m, batch=spec.heads) + matmul(n, m, d, batch=spec.heads)


@closed_form(SRAMixer)
def sra(spec: SRAMixer, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    rh, rw = h // spec.sr, w // spec.sr
    cost = linear(c, c, h * w, bias=spec.qkv_bias) + linear(c, 2 * c, rh * rw, bias=spec.qkv_bias)
    if spec.sr > 1:
        cost = cost + conv(c, c, spec.sr, rh, rw, bias=True) + norm("layernorm", c, rh, rw)
    return cost + sra_matmuls(spec, site) + linear(c, c, h * w)


@closed_form(ConvMLPFFN)
def conv_mlp(spec: ConvMLPFFN, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    hidden = hidden_channels(c, spec.ratio)
    return (
        conv(c, hidden, 1, h, w, bias=spec.bias)
        + conv(hidden, hidden, spec.kernel, h, w, groups=hidden, bias=spec.bias)
        + conv(hidden, c, 1, h, w, bias=spec.bias)
    )
