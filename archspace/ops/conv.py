"""Convolutional token mixers: plain conv, depthwise conv, SCSC."""
from __future__ import annotations

import torch
from torch import nn

from archspace.genotype.base import Act, Norm, Site
from archspace.genotype.specs.blocks import SqueezeExcite
from archspace.genotype.specs.conv import ConvMixer, DWConvMixer, SCSCMixer
from archspace.ops.layers import SE, ConvNormAct, act_layer, norm_layer
from archspace.ops.registry import register


@register(ConvMixer)
def build_conv(spec: ConvMixer, site: Site) -> nn.Module:
    """Plain KxK convolution (He et al., ResNet, Fig. 5 bottleneck 3x3 layer)."""
    return nn.Conv2d(site.channels, site.out_channels, spec.kernel, site.stride, spec.kernel // 2, groups=spec.groups, bias=spec.bias)


@register(DWConvMixer)
def build_dwconv(spec: DWConvMixer, site: Site) -> nn.Module:
    """Depthwise KxK convolution (ConvNeXt §2.4), with 1x1 in/out projections if `proj` (STM-evaluation §3.2.1)."""
    c = site.channels
    dw = nn.Conv2d(c, c, spec.kernel, site.stride, spec.kernel // 2, groups=c, bias=spec.bias)
    if not spec.proj:
        return dw
    return nn.Sequential(nn.Conv2d(c, c, 1), dw, nn.Conv2d(c, c, 1))


class SCSC(nn.Module):
    """Spatial Cross-scale Convolution (SCSC paper §3.1, Eq. 1-6): reduce, m depthwise kernels, SEM fusion, recover."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernels: tuple[int, ...],
        g: int,
        stride: int = 1,
        norm: Norm = "batchnorm",
        act: Act = "gelu",
        out_act: Act = "none",
        shuffle: bool = False,
        se: SqueezeExcite | None = None,
        reduced: int | None = None,
    ):
        super().__init__()
        self.m, self.g = len(kernels), g
        self.reduced = r = in_channels // self.m if reduced is None else reduced
        self.shuffle = shuffle
        self.reduce = ConvNormAct(in_channels, r, 1, norm=norm, act=act)
        self.branches = nn.ModuleList(nn.Conv2d(r, r, k, stride, k // 2, groups=r, bias=False) for k in kernels)
        self.norm = norm_layer(norm)(self.m * r)
        self.act = act_layer(act)()
        self.embed = nn.Conv2d(r, self.m * g, 1, stride, bias=False)
        self.recover = ConvNormAct(r, out_channels, 1, norm=norm, act=out_act)
        self.se = SE(out_channels, se) if se is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xd = self.reduce(x)  # Eq. 1
        xs = torch.cat([branch(xd) for branch in self.branches], dim=1)  # Eq. 2-3
        n, _, h, w = xs.shape
        m, g, r = self.m, self.g, self.reduced
        if self.shuffle:  # official code: channel q*m + i moves to i*r + q
            xs = xs.reshape(n, r, m, h, w).transpose(1, 2).reshape(n, m * r, h, w)
        xs = self.act(self.norm(xs))
        gate = torch.sigmoid(self.embed(xd))  # Eq. 4: N x m*g x H' x W'
        xs = xs.reshape(n, m, g, r // g, h * w).permute(0, 4, 2, 3, 1)  # N x HW x g x C/m/g x m
        gate = gate.reshape(n, m, g, h * w).permute(0, 3, 2, 1).unsqueeze(-1)  # N x HW x g x m x 1
        xe = torch.matmul(xs, gate)  # Eq. 5: N x HW x g x C/m/g x 1
        xe = xe.reshape(n, h * w, r).transpose(1, 2).reshape(n, r, h, w)
        return self.se(self.recover(xe))  # Eq. 6


@register(SCSCMixer)
def build_scsc(spec: SCSCMixer, site: Site) -> nn.Module:
    """SCSC at a site: reduce the input width (times the expansion) by m, stride the branches and the SEM, recover to the site's width."""
    return SCSC(site.channels, site.out_channels, spec.kernels, spec.g, site.stride, spec.norm, spec.act, spec.out_act, spec.shuffle, spec.se,
                spec.reduced(site.channels))
