"""ConTNet ops: the patch-wise standard transformer encoder and the ConT block."""
from __future__ import annotations

import torch
from timm.layers import DropPath
from torch import nn

from archspace.genotype.base import Site
from archspace.genotype.plan import BlockPlan
from archspace.genotype.schema import Stage
from archspace.genotype.specs.cont import ContBlockSpec, ContMixer
from archspace.ops.layers import act_layer, norm_layer
from archspace.ops.registry import build_op, register
from archspace.ops.sdpa import attention


class PatchMHSA(nn.Module):
    """Multi-head self-attention over the tokens of one patch (ConTNet Eq. 5-6); QK^T and AV through SDPA."""

    def __init__(self, channels: int, heads: int, qkv_bias: bool = True, dropout: float = 0.0):
        super().__init__()
        self.heads = heads
        self.scale = (channels // heads) ** -0.5
        self.qkv = nn.Linear(channels, 3 * channels, bias=qkv_bias)
        self.attn_drop = nn.Dropout(dropout)
        self.proj = nn.Linear(channels, channels)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = attention(q, k, v, scale=self.scale, dropout=self.attn_drop.p if self.training else 0.0)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, c)))


class PatchMlp(nn.Module):
    """The encoder's two-layer FFN (ConTNet Eq. 8; GELU between the layers as the official code and [45])."""

    def __init__(self, channels: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class PatchEncoder(nn.Module):
    """Patch-wise STE (ConTNet Eq. 3-8): y_mn = LN(z + FFN(z)), z = LN(x' + MHSA(x')), x' = x_mn + PE, per PxP patch."""

    def __init__(self, channels: int, patch: int, heads: int, hidden: int, qkv_bias: bool = True, pos_embed: str = "split", dropout: float = 0.0):
        super().__init__()
        self.patch = patch
        self.pos_embed = pos_embed
        if pos_embed == "split":
            self.pe_h = nn.Parameter(torch.zeros(patch, 1, channels // 2))
            self.pe_w = nn.Parameter(torch.zeros(1, patch, channels - channels // 2))
        elif pos_embed == "full":
            self.pe = nn.Parameter(torch.zeros(patch, patch, channels))
        self.attn = PatchMHSA(channels, heads, qkv_bias, dropout)
        self.norm1 = nn.LayerNorm(channels)
        self.mlp = PatchMlp(channels, hidden, dropout)
        self.norm2 = nn.LayerNorm(channels)

    def _position(self) -> torch.Tensor | None:
        """The PxPxC encoding added to every patch (split: rows on the first half of the channels, columns on the rest)."""
        p = self.patch
        if self.pos_embed == "split":
            return torch.cat((self.pe_h.expand(p, p, -1), self.pe_w.expand(p, p, -1)), dim=-1)
        if self.pos_embed == "full":
            return self.pe
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        p, hp, wp = self.patch, h // self.patch, w // self.patch
        t = x.reshape(b, c, hp, p, wp, p).permute(0, 2, 4, 3, 5, 1).reshape(b * hp * wp, p, p, c)
        pe = self._position()
        if pe is not None:
            t = t + pe
        t = t.reshape(b * hp * wp, p * p, c)
        t = self.norm1(t + self.attn(t))
        t = self.norm2(t + self.mlp(t))
        return t.reshape(b, hp, wp, p, p, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, w)


@register(ContMixer)
def build_cont_mixer(spec: ContMixer, site: Site) -> nn.Module:
    """The stage's encoders in sequence (ConTNet §3.3: patch sizes 7 then 14)."""
    c = site.channels
    return nn.Sequential(*(PatchEncoder(c, p, spec.heads, spec.hidden(c), spec.qkv_bias, spec.pos_embed, spec.dropout) for p in spec.patches))


@register(ContBlockSpec)
class ContBlock(nn.Module):
    """ConT block (ConTNet §3.3, Fig. 1): y = conv(mixer(a)) + shortcut, a = act(norm(x)), shortcut x or 1x1 conv(a)."""

    def __init__(self, spec: ContBlockSpec, stage: Stage, block: BlockPlan):
        super().__init__()
        c, out = block.input.channels, block.output.channels
        kernel, stride, _ = spec.conv(stage, block.index)
        last = block.index == stage.depth - 1
        self.norm = norm_layer(stage.norm)(c)
        self.act = act_layer(stage.act)()
        self.mixer = build_op(stage.mixer, block.mixer)
        self.conv = nn.Conv2d(c, out, kernel, stride, kernel // 2, bias=False)
        self.shortcut = nn.Conv2d(c, out, 1, stride, bias=False) if (c != out or stride != 1) else None
        self.drop_path = DropPath(block.drop_path) if block.drop_path > 0 else nn.Identity()
        self.drop = nn.Dropout(spec.dropout) if last and spec.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.act(self.norm(x))
        shortcut = x if self.shortcut is None else self.shortcut(a)
        return self.drop(self.drop_path(self.conv(self.mixer(a))) + shortcut)
