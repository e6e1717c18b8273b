"""Closed forms of the conv-family mixers."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, closed_form, conv
from archspace.genotype.base import Site
from archspace.genotype.specs.conv import ConvMixer, DWConvMixer


@closed_form(ConvMixer)
def conv_mixer(spec: ConvMixer, site: Site) -> Cost:
    out = site.out_shape
    return conv(site.channels, site.out_channels, spec.kernel, out.height, out.width, spec.groups, spec.bias)


@closed_form(DWConvMixer)
def dwconv_mixer(spec: DWConvMixer, site: Site) -> Cost:
    out = site.out_shape
    return conv(site.channels, site.channels, spec.kernel, out.height, out.width, site.channels, spec.bias)
