"""Global attention on NCHW maps: PVT spatial-reduction attention, and the PVTv2 convolutional FFN."""
from __future__ import annotations

import torch
from torch import nn

from archspace.genotype.base import Site
from archspace.genotype.specs.attention import ConvMLPFFN, SRAMixer
from archspace.genotype.specs.ffn import hidden_channels
from archspace.ops.layers import act_layer
from archspace.ops.registry import register
from archspace.ops.sdpa import attention


class SpatialReductionAttention(nn.Module):
    """Spatial-reduction attention (STM-evaluation §3.2.3; PVT, Wang et al. 2021, §3.3 Eq. 2-5): K, V from SR(x)."""

    def __init__(self, channels: int, heads: int = 1, sr: int = 1, qkv_bias: bool = True):
        super().__init__()
        self.heads = heads
        self.scale = (channels // heads) ** -0.5
        self.q = nn.Linear(channels, channels, bias=qkv_bias)
        self.kv = nn.Linear(channels, 2 * channels, bias=qkv_bias)
        # SR(x) = Norm(Reshape(x, sr) W^S): a k=s=sr conv then LayerNorm over channels; none at sr=1.
        self.sr = nn.Conv2d(channels, channels, sr, sr) if sr > 1 else None
        self.norm = nn.LayerNorm(channels) if sr > 1 else None
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        d = c // self.heads
        tokens = x.flatten(2).transpose(1, 2)  # B, N, C
        q = self.q(tokens).reshape(b, h * w, self.heads, d).transpose(1, 2)
        if self.sr is not None:
            tokens = self.norm(self.sr(x).flatten(2).transpose(1, 2))  # B, N / sr^2, C
        k, v = self.kv(tokens).reshape(b, -1, 2, self.heads, d).permute(2, 0, 3, 1, 4).unbind(0)
        out = attention(q, k, v, scale=self.scale).transpose(1, 2).reshape(b, h * w, c)
        return self.proj(out).transpose(1, 2).reshape(b, c, h, w)


class ConvMLP(nn.Module):
    """PVTv2 convolutional feed-forward (Wang et al. 2022, Fig. 1b): FC, 3x3 DWConv, GELU, FC, as 1x1 convs on NCHW."""

    def __init__(self, channels: int, hidden: int, kernel: int = 3, act: type[nn.Module] = nn.GELU, bias: bool = True):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden, hidden, kernel, 1, kernel // 2, groups=hidden, bias=bias)
        self.act = act()
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.dwconv(self.fc1(x))))


@register(SRAMixer)
def build_sra(spec: SRAMixer, site: Site) -> nn.Module:
    return SpatialReductionAttention(site.channels, spec.heads, spec.sr, spec.qkv_bias)


@register(ConvMLPFFN)
def build_conv_mlp(spec: ConvMLPFFN, site: Site) -> nn.Module:
    return ConvMLP(site.channels, hidden_channels(site.channels, spec.ratio), spec.kernel, act_layer(site.act), spec.bias)
