"""Closed forms of the stems."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, act, closed_form, conv, norm
from archspace.genotype.base import Shape, conv_out
from archspace.genotype.specs.stems import ConvStem, PatchifyStem, ResNetStem


@closed_form(ResNetStem)
def resnet_stem(spec: ResNetStem, image: Shape) -> Cost:
    h, w = conv_out(image.height, spec.kernel, 2), conv_out(image.width, spec.kernel, 2)
    return conv(image.channels, spec.channels, spec.kernel, h, w) + norm(spec.norm, spec.channels, h, w)


@closed_form(ConvStem)
def conv_stem(spec: ConvStem, image: Shape) -> Cost:
    cost, c, h, w = Cost(), image.channels, image.height, image.width
    for layer in spec.layers:
        h, w = conv_out(h, layer.kernel, layer.stride), conv_out(w, layer.kernel, layer.stride)
        cost = cost + conv(c, layer.channels, layer.kernel, h, w, layer.groups, layer.bias) + norm(layer.norm, layer.channels, h, w)
        cost = cost + act(layer.act, layer.channels)
        c = layer.channels
    return cost


@closed_form(PatchifyStem)
def patchify_stem(spec: PatchifyStem, image: Shape) -> Cost:
    out = spec.output(image)
    return conv(image.channels, spec.channels, spec.patch, out.height, out.width, bias=spec.bias) + norm(spec.norm, spec.channels, out.height, out.width)
