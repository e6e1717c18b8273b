"""Global-attention specs: PVT spatial-reduction attention, and the PVTv2 convolutional FFN."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspace.genotype.base import Site, Spec, require, require_divides, require_odd
from archspace.genotype.specs.ffn import hidden_channels


class SRAMixer(Spec):
    """PVT spatial-reduction attention: keys/values from a k=s=sr conv + LN of the map; sr=1 is plain global MHSA."""

    kind: Literal["sra"] = "sra"
    heads: int = Field(1, ge=1, description="attention heads; must divide the channels")
    sr: int = Field(
        1, ge=1, description="spatial-reduction ratio of the keys/values (conv kernel = stride = sr); a ratio, not a size: must divide the map at every input size", json_schema_extra={"map_tied": "ratio"}
    )
    qkv_bias: bool = True

    def check(self, site: Site) -> None:
        require(site.stride == 1 and site.out_channels == site.channels, "kind", "attention keeps the map and width; pick a block that projects")
        require(site.channels % self.heads == 0, "heads", f"{self.heads} does not divide {site.channels} channels")
        require_divides(self.sr, site.shape.resolution, "sr")


class ConvMLPFFN(Spec):
    """PVTv2 FFN: 1x1 expand, KxK depthwise conv, activation, 1x1 project (C -> ratio*C -> C)."""

    kind: Literal["conv_mlp"] = "conv_mlp"
    ratio: float = Field(4.0, gt=0)
    kernel: int = Field(3, ge=1)
    bias: bool = True

    def check(self, site: Site) -> None:
        require_odd(self.kernel, "kernel")
        require(hidden_channels(site.channels, self.ratio) >= 1, "ratio", f"{self.ratio} leaves no hidden channels")


MIXERS = (SRAMixer,)
FFNS = (ConvMLPFFN,)
