"""Convolutional token mixers: plain conv, depthwise conv (and SCSC)."""
from __future__ import annotations

from torch import nn

from archspace.genotype.base import Site
from archspace.genotype.specs.conv import ConvMixer, DWConvMixer
from archspace.ops.registry import register


@register(ConvMixer)
def build_conv(spec: ConvMixer, site: Site) -> nn.Module:
    """Plain KxK convolution (He et al., ResNet, Fig. 5 bottleneck 3x3 layer)."""
    return nn.Conv2d(site.channels, site.out_channels, spec.kernel, site.stride, spec.kernel // 2, groups=spec.groups, bias=spec.bias)


@register(DWConvMixer)
def build_dwconv(spec: DWConvMixer, site: Site) -> nn.Module:
    """Depthwise KxK convolution (ConvNeXt §2.4; STM-evaluation U-DWConv): groups = channels."""
    c = site.channels
    return nn.Conv2d(c, c, spec.kernel, site.stride, spec.kernel // 2, groups=c, bias=spec.bias)
