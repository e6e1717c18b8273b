"""Closed forms of the downsample layers."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, closed_form, conv, linear, norm
from archspace.genotype.base import Shape
from archspace.genotype.specs.downsample import ConvDownsample, InBlockDownsample, NoDownsample, PatchMerge


@closed_form(NoDownsample, InBlockDownsample)
def no_layer(spec, x: Shape, out: Shape) -> Cost:
    return Cost()


@closed_form(ConvDownsample)
def conv_downsample(spec: ConvDownsample, x: Shape, out: Shape) -> Cost:
    where = x if spec.norm_position == "pre" else out
    return conv(x.channels, out.channels, spec.kernel, out.height, out.width, bias=spec.bias) + norm(spec.norm, where.channels, where.height, where.width)


@closed_form(PatchMerge)
def patch_merge(spec: PatchMerge, x: Shape, out: Shape) -> Cost:
    tokens = out.height * out.width
    return norm(spec.norm, 4 * x.channels, out.height, out.width) + linear(4 * x.channels, out.channels, tokens, bias=False)
