"""TransCNN family ops: global MHSA, hierarchical MHSA (H-MHSA) and the two-branch downsampling block (TDB)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from archspace.genotype.base import Norm, Shape, Site
from archspace.genotype.specs.hmhsa import HMHSAMixer, Level, MHSAMixer, TDBDownsample
from archspace.ops.layers import act_layer, norm_layer
from archspace.ops.registry import register
from archspace.ops.sdpa import attention


def _split(x: torch.Tensor, windows: tuple[int, int], heads: int) -> torch.Tensor:
    """[B, C, H, W] -> [B * rows * cols, heads, tokens per cell, C / heads]."""
    b, c, h, w = x.shape
    rows, cols = windows
    x = x.reshape(b, heads, c // heads, rows, h // rows, cols, w // cols)
    return x.permute(0, 3, 5, 1, 4, 6, 2).reshape(b * rows * cols, heads, (h // rows) * (w // cols), c // heads)


def _merge(x: torch.Tensor, windows: tuple[int, int], shape: tuple[int, int, int, int]) -> torch.Tensor:
    """Inverse of `_split`: [B * rows * cols, heads, tokens, d] -> [B, C, H, W]."""
    b, c, h, w = shape
    rows, cols = windows
    heads, d = x.shape[1], x.shape[3]
    x = x.reshape(b, rows, cols, heads, h // rows, w // cols, d)
    return x.permute(0, 3, 6, 1, 4, 2, 5).reshape(b, c, h, w)


def grid_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, windows: tuple[int, int]) -> torch.Tensor:
    """Softmax(Q K^T / sqrt(d)) V (TransCNN Eq. 1) inside each of rows x cols grid cells.

    q is [B, C, Hq, Wq], k and v [B, C, Hk, Wk]; both maps are cut into the same rows x cols cells
    and each query cell attends to its key cell (one batched SDPA call over the cells).
    """
    shape = tuple(q.shape)
    q, k, v = (_split(t, windows, heads) for t in (q, k, v))
    return _merge(attention(q, k, v), windows, shape)


class MHSA(nn.Module):
    """Global multi-head self-attention over all HxW tokens (Vaswani et al. §3.2.2; ViT Eq. 2; TransCNN Eq. 1-2)."""

    def __init__(self, channels: int, heads: int, qkv_bias: bool = True, proj_bias: bool = True):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Conv2d(channels, 3 * channels, 1, bias=qkv_bias)
        self.proj = nn.Conv2d(channels, channels, 1, bias=proj_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=1)
        return self.proj(grid_attention(q, k, v, self.heads, (1, 1)))


def pool(x: torch.Tensor, factor: int, kind: str) -> torch.Tensor:
    """Downsample by `factor` (TransCNN Eq. 8): max + average pooling, or one of them."""
    if kind == "max":
        return F.max_pool2d(x, factor)
    if kind == "avg":
        return F.avg_pool2d(x, factor)
    return F.max_pool2d(x, factor) + F.avg_pool2d(x, factor)


class HLevel(nn.Module):
    """One level i > 0 of H-MHSA: queries and pooled keys/values (TransCNN Eq. 8-10)."""

    def __init__(self, channels: int, level: Level, qkv_bias: bool, norm: Norm = "none"):
        super().__init__()
        self.level = level
        self.pool_norm = norm_layer(norm)(channels)
        self.q = nn.Conv2d(channels, channels, 1, bias=qkv_bias)
        self.kv = nn.Conv2d(channels, 2 * channels, 1, bias=qkv_bias)


class HMHSA(nn.Module):
    """Hierarchical MHSA (TransCNN §3.2, Eq. 5-12; §4.1 for query="full").

    Level 0 attends inside G0xG0 grid cells; A0 = X + attn0 (Eq. 7, X the mixer input before input_norm). Level i > 0 pools the
    previous level's output (Eq. 8) into keys/values and attends inside Gi x Gi cells of the pooled
    map (Eq. 9-10). With query="full" every full-resolution token of A_{i-1} queries the pooled
    cell covering it and A_i = A_{i-1} + attn_i; the output is A_M W^p. With query="pooled", Q, K, V
    come from the pooled map, A_i = A'_{i-1} + attn_i (Eq. 11) and the output is
    (A0 + Up(A1) + ... + Up(A_M)) W^p (Eq. 12). A single level is Eq. 1 directly: attn0 W^p.
    The block adds the outer residual X.
    """

    def __init__(
        self,
        channels: int,
        heads: int,
        levels: tuple[Level, ...],
        pooling: str = "max_avg",
        query: str = "full",
        qkv_bias: bool = True,
        proj_bias: bool = True,
        input_norm: Norm = "none",
        level_norm: Norm = "none",
    ):
        super().__init__()
        self.heads = heads
        self.windows = levels[0].windows
        self.query = query
        self.pooling = pooling
        self.norm = norm_layer(input_norm)(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1, bias=qkv_bias)
        self.level_norms = nn.ModuleList(norm_layer(level_norm)(channels) for _ in levels[:-1])
        self.levels = nn.ModuleList(HLevel(channels, lv, qkv_bias, level_norm) for lv in levels[1:])
        self.proj = nn.Conv2d(channels, channels, 1, bias=proj_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(self.norm(x)).chunk(3, dim=1)
        a = grid_attention(q, k, v, self.heads, self.windows)
        if not self.levels:
            return self.proj(a)
        a = self.level_norms[0](x + a)
        out = a
        for i, level in enumerate(self.levels, start=1):
            lv: Level = level.level
            pooled = level.pool_norm(pool(a, lv.pool, self.pooling))
            k, v = level.kv(pooled).chunk(2, dim=1)
            source = a if self.query == "full" else pooled
            a = source + grid_attention(level.q(source), k, v, self.heads, lv.windows)
            if i < len(self.levels):
                a = self.level_norms[i](a)
            if self.query == "pooled":
                out = out + F.interpolate(a, size=out.shape[-2:], mode="nearest")
        return self.proj(a if self.query == "full" else out)


class TwoBranchDownsample(nn.Module):
    """Two-branch downsampling block (TransCNN §3.3, Fig. 1d): act(norm(conv3x3 s2 x) + norm(conv1x1 pool2x2 x))."""

    def __init__(self, in_channels: int, out_channels: int, pool: str = "max", bias: bool = True, norm: str = "batchnorm", act: str = "silu"):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, 2, 1, bias=bias)
        self.norm_conv = norm_layer(norm)(out_channels)
        self.pool = nn.MaxPool2d(2, 2) if pool == "max" else nn.AvgPool2d(2, 2)
        self.pool_conv = nn.Conv2d(in_channels, out_channels, 1, bias=bias)
        self.norm_pool = norm_layer(norm)(out_channels)
        self.act = act_layer(act)()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm_conv(self.conv(x)) + self.norm_pool(self.pool_conv(self.pool(x))))


@register(MHSAMixer)
def build_mhsa(spec: MHSAMixer, site: Site) -> nn.Module:
    return MHSA(site.channels, spec.num_heads(site.channels), spec.qkv_bias, spec.proj_bias)


@register(HMHSAMixer)
def build_hmhsa(spec: HMHSAMixer, site: Site) -> nn.Module:
    return HMHSA(
        site.channels,
        spec.num_heads(site.channels),
        spec.levels(site.shape),
        spec.pooling,
        spec.query,
        spec.qkv_bias,
        spec.proj_bias,
        site.norm if spec.input_norm else "none",
        site.norm if spec.level_norm else "none",
    )


@register(TDBDownsample)
def build_tdb(spec: TDBDownsample, x: Shape, out: Shape) -> nn.Module:
    return TwoBranchDownsample(x.channels, out.channels, spec.pool, spec.bias, spec.norm, spec.act)
