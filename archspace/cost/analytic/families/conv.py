"""Closed forms of the conv-family mixers."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, avg_pool, closed_form, conv, matmul, norm
from archspace.genotype.base import Site
from archspace.genotype.specs.blocks import SqueezeExcite
from archspace.genotype.specs.conv import ConvMixer, DWConvMixer, SCSCMixer


@closed_form(ConvMixer)
def conv_mixer(spec: ConvMixer, site: Site) -> Cost:
    out = site.out_shape
    return conv(site.channels, site.out_channels, spec.kernel, out.height, out.width, spec.groups, spec.bias)


@closed_form(DWConvMixer)
def dwconv_mixer(spec: DWConvMixer, site: Site) -> Cost:
    c, out = site.channels, site.out_shape
    cost = conv(c, c, spec.kernel, out.height, out.width, c, spec.bias)
    if spec.proj:
        cost = cost + conv(c, c, 1, site.shape.height, site.shape.width, bias=True) + conv(c, c, 1, out.height, out.width, bias=True)
    return cost


def _squeeze_excite(spec: SqueezeExcite, c: int, h: int, w: int) -> Cost:
    hidden = max(c // spec.reduction, spec.min_channels)
    return avg_pool(c, h, w) + conv(c, hidden, 1, 1, 1, bias=spec.bias) + conv(hidden, c, 1, 1, 1, bias=spec.bias)


@closed_form(SCSCMixer)
def scsc_mixer(spec: SCSCMixer, site: Site) -> Cost:
    x, o = site.shape, site.out_shape
    m, r = spec.m, spec.reduced(site.channels)
    cost = conv(x.channels, r, 1, x.height, x.width) + norm(spec.norm, r, x.height, x.width)  # Eq. 1
    for k in spec.kernels:  # Eq. 3
        cost = cost + conv(r, r, k, o.height, o.width, groups=r)
    cost = cost + norm(spec.norm, m * r, o.height, o.width)
    cost = cost + conv(r, m * spec.g, 1, o.height, o.width)  # Eq. 4
    cost = cost + matmul(r // spec.g, m, 1, batch=o.height * o.width * spec.g)  # Eq. 5
    cost = cost + conv(r, o.channels, 1, o.height, o.width) + norm(spec.norm, o.channels, o.height, o.width)  # Eq. 6
    if spec.se is not None:
        cost = cost + _squeeze_excite(spec.se, o.channels, o.height, o.width)
    return cost
