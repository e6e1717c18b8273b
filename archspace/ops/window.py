"""Local-attention token mixers: Swin shifted-window attention and HaloNet halo attention (NCHW in and out)."""
from __future__ import annotations

import torch
from timm.layers import trunc_normal_
from torch import nn
from torch.nn import functional as F

from archspace.genotype.base import Site
from archspace.genotype.specs.window import HaloMixer, SwinMixer
from archspace.ops.registry import register
from archspace.ops.sdpa import attention


def relative_index(window: tuple[int, int]) -> torch.Tensor:
    """(N, N) index into a (2Wh-1)(2Ww-1) table of the offset between every two tokens of a window (Swin §3.2)."""
    wh, ww = window
    coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]
    return (rel[0] + wh - 1) * (2 * ww - 1) + rel[1] + ww - 1


def shift_mask(size: tuple[int, int], window: tuple[int, int], shift: tuple[int, int]) -> torch.Tensor:
    """(nW, N, N) additive mask of the cyclically shifted map: -inf between tokens from opposite sides of a wrap (Swin Fig. 4)."""
    (h, w), (wh, ww) = size, window
    rows = (torch.arange(h) >= h - shift[0]).long()
    cols = (torch.arange(w) >= w - shift[1]).long()
    region = (rows[:, None] * 2 + cols[None, :]).view(h // wh, wh, w // ww, ww).transpose(1, 2).reshape(-1, wh * ww)
    apart = region[:, :, None] != region[:, None, :]
    return torch.zeros(apart.shape).masked_fill(apart, float("-inf"))


def roll_index(size: tuple[int, int], shift: tuple[int, int]) -> torch.Tensor:
    """(H*W,) raster index that gathers a map rolled by (-Sh, -Sw), as torch.roll(x, (-Sh, -Sw))."""
    h, w = size
    rows = (torch.arange(h) + shift[0]) % h
    cols = (torch.arange(w) + shift[1]) % w
    return (rows[:, None] * w + cols[None, :]).flatten()


class WindowAttention(nn.Module):
    """Shifted-window MHSA (Liu et al., Swin §3.2, Eq. 4): softmax(QK^T/sqrt(d) + B)V in each window, cyclic shift + mask."""

    def __init__(
        self,
        channels: int,
        heads: int,
        size: tuple[int, int],
        window: tuple[int, int],
        shift: tuple[int, int] = (0, 0),
        qkv_bias: bool = True,
        rel_pos_bias: bool = True,
    ):
        super().__init__()
        self.heads = heads
        self.scale = (channels // heads) ** -0.5
        self.window = window
        self.shift = shift
        self.qkv = nn.Linear(channels, 3 * channels, bias=qkv_bias)
        self.proj = nn.Linear(channels, channels)
        self.rel_pos = None
        if rel_pos_bias:
            self.rel_pos = nn.Parameter(torch.zeros((2 * window[0] - 1) * (2 * window[1] - 1), heads))
            trunc_normal_(self.rel_pos, std=0.02)
        self.register_buffer("rel_index", relative_index(window) if rel_pos_bias else None, persistent=False)
        self.register_buffer("mask", shift_mask(size, window, shift) if any(shift) else None, persistent=False)
        self.register_buffer("roll", roll_index(size, shift) if any(shift) else None, persistent=False)
        self.register_buffer("unroll", roll_index(size, (-shift[0], -shift[1])) if any(shift) else None, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        (wh, ww), heads = self.window, self.heads
        nh, nw, n = h // wh, w // ww, wh * ww
        x = x.permute(0, 2, 3, 1)
        if self.roll is not None:  # the cyclic shift as one gather (torch.roll copies twice)
            x = x.reshape(b, h * w, c).index_select(1, self.roll).view(b, h, w, c)
        qkv = self.qkv(x).view(b, nh, wh, nw, ww, 3, heads, c // heads)
        q, k, v = qkv.permute(5, 0, 1, 3, 6, 2, 4, 7).reshape(3, b, nh * nw, heads, n, c // heads).unbind(0)
        bias = self.rel_pos[self.rel_index].permute(2, 0, 1) if self.rel_pos is not None else None  # heads N N
        if self.mask is not None:
            bias = self.mask[:, None] if bias is None else bias + self.mask[:, None]  # nW heads N N
        x = attention(q, k, v, bias=bias, scale=self.scale)
        x = x.view(b, nh, nw, heads, wh, ww, c // heads).permute(0, 1, 4, 2, 5, 3, 6).reshape(b, h, w, c)
        if self.roll is not None:
            x = x.view(b, h * w, c).index_select(1, self.unroll).view(b, h, w, c)
        return self.proj(x).permute(0, 3, 1, 2)


def relative_index_1d(block: int, window: int, halo: int) -> torch.Tensor:
    """(block, window) index of key-minus-query offsets along one axis into a 2(block+halo)-1 table."""
    return torch.arange(window)[None, :] - halo - torch.arange(block)[:, None] + block + halo - 1


def halo_padding(size: int, block: int, halo: int) -> torch.Tensor:
    """(n_blocks, window) mask, along one axis, of each block's window positions that fall on zero padding."""
    pos = torch.arange(0, size, block)[:, None] - halo + torch.arange(block + 2 * halo)[None, :]
    return (pos < 0) | (pos >= size)


class HaloAttention(nn.Module):
    """Halo attention (Vaswani et al. 2021, HaloNet; STM-evaluation §3.2.4): BxB query blocks attend to their
    (B+2H)^2 haloed window with logits q.k + q.(r_row + r_col) (relative position embeddings)."""

    def __init__(self, channels: int, heads: int, size: tuple[int, int], block: tuple[int, int], halo: int, qkv_bias: bool = False):
        super().__init__()
        self.heads = heads
        dim = channels // heads
        self.scale = dim**-0.5
        self.block = block
        self.halo = halo
        self.q = nn.Conv2d(channels, channels, 1, bias=qkv_bias)
        self.kv = nn.Conv2d(channels, 2 * channels, 1, bias=qkv_bias)
        self.proj = nn.Conv2d(channels, channels, 1)
        self.rel_row = nn.Parameter(torch.zeros(2 * (block[0] + halo) - 1, dim))
        self.rel_col = nn.Parameter(torch.zeros(2 * (block[1] + halo) - 1, dim))
        trunc_normal_(self.rel_row, std=0.02)
        trunc_normal_(self.rel_col, std=0.02)
        (bh, bw), (nh, nw) = block, (size[0] // block[0], size[1] // block[1])
        wh, ww = bh + 2 * halo, bw + 2 * halo
        # gather indices from q.r over the whole table to each (query, key) row / column pair
        self.register_buffer("row_index", relative_index_1d(bh, wh, halo).view(1, 1, 1, 1, bh, 1, wh), persistent=False)
        self.register_buffer("col_index", relative_index_1d(bw, ww, halo).view(1, 1, 1, 1, 1, bw, ww), persistent=False)
        self.register_buffer("row_padding", halo_padding(size[0], bh, halo).view(nh, 1, 1, 1, wh), persistent=False)
        self.register_buffer("col_padding", halo_padding(size[1], bw, halo).view(nw, 1, 1, ww), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        (bh, bw), halo, heads = self.block, self.halo, self.heads
        nh, nw, d = h // bh, w // bw, c // heads
        wh, ww = bh + 2 * halo, bw + 2 * halo
        q = (self.q(x) * self.scale).view(b, heads, d, nh, bh, nw, bw).permute(0, 1, 3, 5, 4, 6, 2).contiguous()
        kv = F.pad(self.kv(x), (halo, halo, halo, halo)).unfold(2, wh, bh).unfold(3, ww, bw)  # B 2C nH nW Wh Ww
        kv = kv.view(b, 2, heads, d, nh, nw, wh, ww).permute(1, 0, 2, 4, 5, 6, 7, 3).reshape(2, b, heads, nh, nw, wh * ww, d)
        k, v = kv.unbind(0)
        shape = (b, heads, nh, nw, bh, bw)
        rows = (q @ self.rel_row.t()).gather(-1, self.row_index.expand(*shape, wh))  # B h nH nW Bh Bw Wh
        cols = (q @ self.rel_col.t()).gather(-1, self.col_index.expand(*shape, ww))  # B h nH nW Bh Bw Ww
        rows = rows.masked_fill(self.row_padding, float("-inf"))  # keys on the zero-padded halo
        cols = cols.masked_fill(self.col_padding, float("-inf"))
        bias = (rows[..., None] + cols[..., None, :]).view(b, heads, nh, nw, bh * bw, wh * ww)
        out = attention(q.view(b, heads, nh, nw, bh * bw, d), k, v, bias=bias, scale=1.0)  # q is pre-scaled
        out = out.view(b, heads, nh, nw, bh, bw, d).permute(0, 1, 6, 2, 4, 3, 5).reshape(b, c, h, w)
        return self.proj(out)


@register(SwinMixer)
def build_swin(spec: SwinMixer, site: Site) -> nn.Module:
    window, shift = spec.window_at(site)
    return WindowAttention(site.channels, spec.heads, site.shape.resolution, window, shift, spec.qkv_bias, spec.rel_pos_bias)


@register(HaloMixer)
def build_halo(spec: HaloMixer, site: Site) -> nn.Module:
    return HaloAttention(site.channels, spec.heads, site.shape.resolution, spec.block_at(site), spec.halo, spec.qkv_bias)
