"""TransXNet ops: IDConv, OSRA, STE, the D-Mixer that joins them, and the multi-scale FFN (MS-FFN)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from archspace.genotype.base import Site
from archspace.genotype.specs.dmixer import DMixer, MSFFN, kv_size, osr_kernel, osr_padding, split_channels
from archspace.genotype.specs.ffn import hidden_channels
from archspace.ops.layers import act_layer, norm_layer
from archspace.ops.registry import register
from archspace.ops.sdpa import attention


class IDConv(nn.Module):
    """Input-dependent depthwise conv (TransXNet §III-B1, Eq. 3): W = sum_g softmax_g(A')_g * P_g, applied per sample."""

    def __init__(self, channels: int, kernel: int = 7, groups: int = 2, reduction: int = 4, norm: str = "batchnorm", act: str = "gelu"):
        super().__init__()
        self.kernel, self.groups = kernel, groups
        hidden = channels // reduction
        self.pool = nn.AdaptiveAvgPool2d(kernel)
        self.reduce = nn.Conv2d(channels, hidden, 1, bias=False)
        self.norm = norm_layer(norm)(hidden)
        self.act = act_layer(act)()
        self.expand = nn.Conv2d(hidden, groups * channels, 1)
        self.weight = nn.Parameter(torch.empty(groups, channels, kernel, kernel))
        nn.init.trunc_normal_(self.weight, std=0.02)

    def dynamic_kernel(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample depthwise kernels (B, C, K, K): softmax over G of the pooled attention, times the G kernels."""
        b, c = x.shape[:2]
        k2 = self.kernel * self.kernel
        a = self.expand(self.act(self.norm(self.reduce(self.pool(x)))))
        a = a.reshape(b, self.groups, c, k2).softmax(dim=1)
        # sum over g of A[b, g, c, k] * P[g, c, k] as a matmul batched over (c, k): fvcore counts its G MACs per weight
        w = torch.matmul(a.permute(2, 3, 0, 1), self.weight.reshape(self.groups, c, k2).permute(1, 2, 0).unsqueeze(-1))
        return w.squeeze(-1).permute(2, 0, 1).reshape(b, c, self.kernel, self.kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        weight = self.dynamic_kernel(x).reshape(b * c, 1, self.kernel, self.kernel)
        y = F.conv2d(x.reshape(1, b * c, h, w), weight, padding=self.kernel // 2, groups=b * c)
        return y.reshape(b, c, h, w)


class OSRA(nn.Module):
    """Overlapping spatial-reduction attention (TransXNet §III-B2, Eq. 4): softmax(QK^T/sqrt(d) + B) V, no output projection."""

    def __init__(
        self,
        channels: int,
        heads: int = 1,
        sr_stride: int = 1,
        qkv_bias: bool = True,
        norm: str = "batchnorm",
        bias_shape: tuple[int, int] | None = None,
        stage_bias: bool = False,
    ):
        super().__init__()
        self.heads = heads
        self.scale = (channels // heads) ** -0.5
        self.q = nn.Conv2d(channels, channels, 1, bias=qkv_bias)
        if sr_stride > 1:
            k = osr_kernel(sr_stride)
            self.sr = nn.Sequential(
                nn.Conv2d(channels, channels, k, sr_stride, osr_padding(sr_stride), groups=channels, bias=False),
                norm_layer(norm)(channels),
            )
        else:
            self.sr = nn.Identity()
        self.local = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels)
        self.kv = nn.Conv2d(channels, 2 * channels, 1, bias=qkv_bias)
        self.pos_bias = nn.Parameter(torch.zeros(1, heads, *bias_shape)) if bias_shape is not None else None
        # one bias matrix per stage (official code): the stage ties the parameters named here across its blocks
        self.stage_shared: tuple[str, ...] = ("pos_bias",) if stage_bias and bias_shape is not None else ()

    def position_bias(self, n: int, n_kv: int) -> torch.Tensor:
        """B for an N x N_kv attention map; resized bicubically when the input differs from the built resolution."""
        bias = self.pos_bias
        if bias.shape[-2:] != (n, n_kv):
            bias = F.interpolate(bias, size=(n, n_kv), mode="bicubic", align_corners=False)
        return bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        d = c // self.heads
        q = self.q(x).reshape(b, self.heads, d, h * w).transpose(-1, -2)
        y = self.sr(x)
        y = y + self.local(y)
        k, v = self.kv(y).reshape(b, 2, self.heads, d, -1).unbind(1)
        bias = self.position_bias(q.shape[-2], k.shape[-1]) if self.pos_bias is not None else None
        out = attention(q, k.transpose(-1, -2), v.transpose(-1, -2), bias=bias, scale=self.scale)
        return out.transpose(-1, -2).reshape(b, c, h, w)


class STE(nn.Module):
    """Squeezed token enhancer (TransXNet §III-B3, Eq. 5): X + 1x1(1x1(DW3x3(X))), C -> C/r -> C."""

    def __init__(self, channels: int, inner: int, norm: str = "batchnorm", act: str = "gelu"):
        super().__init__()
        self.dw = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels)
        self.act1 = act_layer(act)()
        self.norm1 = norm_layer(norm)(channels)
        self.squeeze = nn.Conv2d(channels, inner, 1)
        self.act2 = act_layer(act)()
        self.norm2 = norm_layer(norm)(inner)
        self.expand = nn.Conv2d(inner, channels, 1)
        self.norm3 = norm_layer(norm)(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(self.act1(self.dw(x)))
        y = self.norm2(self.act2(self.squeeze(y)))
        return x + self.norm3(self.expand(y))


class DualDynamicMixer(nn.Module):
    """D-Mixer (TransXNet §III-B, Eq. 2): Concat(OSRA(X1), IDConv(X2)) then STE; X1 holds the attention share."""

    def __init__(self, spec: DMixer, site: Site):
        super().__init__()
        c, (h, w) = site.channels, site.shape.resolution
        self.split = split_channels(c, spec.attn_ratio)
        kh, kw = kv_size(h, w, spec.sr_stride)
        bias_shape = (h * w, kh * kw) if spec.pos_bias != "none" else None
        self.osra = OSRA(self.split[0], spec.heads, spec.sr_stride, spec.qkv_bias, spec.norm, bias_shape, spec.pos_bias == "stage")
        self.idconv = IDConv(self.split[1], spec.idconv_kernel, spec.idconv_groups, spec.idconv_reduction, spec.norm, site.act)
        self.ste = STE(c, spec.ste_channels(c), spec.norm, site.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = torch.split(x, self.split, dim=1)
        return self.ste(torch.cat([self.osra(x1), self.idconv(x2)], dim=1))


class MultiScaleFFN(nn.Module):
    """MS-FFN (TransXNet §III-C, Fig. 5c): 1x1 expand, parallel KxK depthwise convs on equal hidden shares, 1x1 project."""

    def __init__(self, channels: int, hidden: int, scales: tuple[int, ...] = (1, 3, 5, 7), norm: str = "batchnorm", act: str = "gelu"):
        super().__init__()
        share = hidden // len(scales)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.act1 = act_layer(act)()
        self.norm1 = norm_layer(norm)(hidden)
        self.dw = nn.ModuleList(nn.Conv2d(share, share, k, 1, k // 2, groups=share) for k in scales)
        self.act2 = act_layer(act)()
        self.norm2 = norm_layer(norm)(hidden)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)
        self.norm3 = norm_layer(norm)(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(self.act1(self.fc1(x)))
        parts = torch.chunk(x, len(self.dw), dim=1)
        x = torch.cat([conv(p) for conv, p in zip(self.dw, parts)], dim=1)
        x = self.norm2(self.act2(x))
        return self.norm3(self.fc2(x))


@register(DMixer)
def build_dmixer(spec: DMixer, site: Site) -> nn.Module:
    return DualDynamicMixer(spec, site)


@register(MSFFN)
def build_msffn(spec: MSFFN, site: Site) -> nn.Module:
    return MultiScaleFFN(site.channels, hidden_channels(site.channels, spec.ratio), spec.scales, spec.norm, site.act)
