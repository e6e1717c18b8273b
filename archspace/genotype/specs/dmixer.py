"""Specs of the TransXNet family: the Dual Dynamic Token Mixer (D-Mixer) and the multi-scale FFN (MS-FFN)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspace.genotype.base import Norm, Site, Spec, conv_out, require, require_odd
from archspace.genotype.specs.ffn import hidden_channels


def split_channels(channels: int, attn_ratio: float) -> tuple[int, int]:
    """(OSRA channels, IDConv channels): the attention share is int(channels * attn_ratio)."""
    attn = int(channels * attn_ratio)
    return attn, channels - attn


def osr_kernel(stride: int) -> int:
    """Overlapping spatial reduction kernel: stride + 3 (TransXNet §III-B2); stride 1 means no reduction."""
    return stride + 3 if stride > 1 else 1


def osr_padding(stride: int) -> int:
    """Padding of the overlapping reduction conv, (stride + 3) // 2 as in the official code."""
    return osr_kernel(stride) // 2 if stride > 1 else 0


def kv_size(height: int, width: int, stride: int) -> tuple[int, int]:
    """Key/value map size after the overlapping spatial reduction."""
    if stride == 1:
        return height, width
    k, p = osr_kernel(stride), osr_padding(stride)
    return conv_out(height, k, stride, p), conv_out(width, k, stride, p)


class DMixer(Spec):
    """TransXNet D-Mixer (Eq. 2): split channels, OSRA on one share, IDConv on the other, concat, STE."""

    kind: Literal["dmixer"] = "dmixer"
    attn_ratio: float = Field(0.5, gt=0, lt=1, description="share of the channels sent to OSRA, int(C * attn_ratio) (the rest go to IDConv); both shares must be non-empty")
    heads: int = Field(1, ge=1, description="OSRA attention heads; must divide the attention share int(C * attn_ratio)")
    sr_stride: int = Field(1, ge=1, description="OSR stride (kernel = stride + 3); 1 keeps every token; a ratio, not a size: must divide the map", json_schema_extra={"map_tied": "ratio"})
    qkv_bias: bool = True
    pos_bias: Literal["none", "block", "stage"] = Field(
        "stage",
        description="learnable full (heads x N x N_kv) bias B: none, one per block, or one shared by the stage's blocks. Tied to the "
        "token count N = H x W: at another input size it is resized bicubically (official code)",
        json_schema_extra={"map_tied": "token_count"},
    )
    idconv_kernel: int = Field(7, ge=1, description="IDConv kernel K (the pooled size is K x K)")
    idconv_groups: int = Field(2, ge=1, description="IDConv attention groups G (kernels mixed per channel)")
    idconv_reduction: int = Field(4, ge=1, description="IDConv MLP reduction r")
    ste_reduction: int = Field(8, ge=1, description="STE squeeze ratio r")
    ste_min_channels: int = Field(16, ge=1, description="STE squeezed width is at least this")
    norm: Norm = Field("batchnorm", description="norm inside IDConv's MLP, OSR and STE (official code); none = bare equations")
    attn_first: bool = Field(
        False, description="OSRA takes the leading channel share (Eq. 2's X1); the official code gives it to IDConv (False)"
    )
    idconv_bias: bool = Field(
        True, description="IDConv's input-dependent bias, softmax_G(MLP(mean X)) . b_G (official code; the paper's Eq. 3 has none)"
    )
    sr_refine: bool = Field(
        True, description="GELU, then a 1x1 depthwise conv + norm after OSR's strided conv (official code; not in the paper)"
    )

    def check(self, site: Site) -> None:
        require(site.stride == 1 and site.out_channels == site.channels, "kind", "the D-Mixer keeps width and resolution")
        attn, conv = split_channels(site.channels, self.attn_ratio)
        require(attn >= 1 and conv >= 1, "attn_ratio", f"{self.attn_ratio} leaves an empty branch at {site.channels} channels")
        require(attn % self.heads == 0, "heads", f"{self.heads} does not divide the {attn} attention channels")
        h, w = site.shape.resolution
        require(
            h % self.sr_stride == 0 and w % self.sr_stride == 0,
            "sr_stride",
            f"{self.sr_stride} does not divide the {h}x{w} map",
        )
        require_odd(self.idconv_kernel, "idconv_kernel")
        require(
            conv // self.idconv_reduction >= 1,
            "idconv_reduction",
            f"{self.idconv_reduction} leaves no hidden channels for the {conv} IDConv channels",
        )
        require(
            not (self.idconv_bias and self.norm in ("layernorm", "groupnorm") and conv // self.idconv_reduction < 2),
            "idconv_reduction",
            f"{self.idconv_reduction} leaves one hidden channel for the {conv} IDConv channels: its {self.norm} "
            "over the pooled 1x1 map of the dynamic bias has a single value to normalise",
        )

    def ste_channels(self, channels: int) -> int:
        """Squeezed width of the STE: max(C / r, min_channels)."""
        return max(channels // self.ste_reduction, self.ste_min_channels)


class MSFFN(Spec):
    """TransXNet MS-FFN (§III-C): 1x1 expand, parallel depthwise convs of several scales on equal shares, 1x1 project."""

    kind: Literal["msffn"] = "msffn"
    ratio: float = Field(4.0, gt=0, description="expansion ratio E")
    scales: tuple[int, ...] = Field((1, 3, 5, 7), min_length=1, description="odd depthwise kernel of each hidden share; len(scales) must split the hidden width int(C * ratio) equally")
    norm: Norm = Field("batchnorm", description="norm after each stage of the FFN (official code); none = bare")
    dw_residual: bool = Field(True, description="identity around the multi-scale depthwise convs, DW(x) + x (official code; not in Fig. 5c)")

    def check(self, site: Site) -> None:
        hidden = hidden_channels(site.channels, self.ratio)
        require(hidden >= 1, "ratio", f"{self.ratio} leaves no hidden channels")
        for i, k in enumerate(self.scales):
            require(k >= 1 and k % 2 == 1, f"scales[{i}]", f"must be odd and positive, got {k}")
        require(
            hidden % len(self.scales) == 0,
            "scales",
            f"{len(self.scales)} scales do not split the {hidden} hidden channels equally",
        )


MIXERS = (DMixer,)
FFNS = (MSFFN,)
