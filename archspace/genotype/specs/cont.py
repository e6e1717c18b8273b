"""ConTNet specs: the patch-wise standard transformer encoder (mixer) and the ConT block."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from archspace.genotype.base import Shape, Site, Spec, conv_out, require, require_divides, require_odd
from archspace.genotype.specs.blocks import BlockSites

if TYPE_CHECKING:
    from archspace.genotype.schema import Stage


class ContMixer(Spec):
    """Patch-wise STEs in sequence (ConTNet §3.2, Eq. 3-8): one post-norm encoder per entry of `patches`.

    Each encoder splits the map into non-overlapping PxP patches and runs MHSA and FFN inside every
    patch, with one learned position encoding shared by all patches. Keeps the width and resolution.
    """

    kind: Literal["cont"] = "cont"
    patches: tuple[int, ...] = Field(
        (7, 14), min_length=1, description="patch side P of each encoder, in order, in tokens (ConTNet §3.2: PxP patches); a cell size, not a number of patches: at another input size the patches keep their size and their number changes; P must divide the map", json_schema_extra={"map_tied": "cell_size"},
    )
    heads: int = Field(1, ge=1, description="MHSA heads (ConTNet: 1/2/4/8 over the stages, 64 channels per head); must divide the channels")
    mlp_ratio: float = Field(4.0, gt=0, description="FFN hidden width = int(C * mlp_ratio), unless mlp_hidden is set")
    mlp_hidden: int | None = Field(None, ge=1, description="FFN hidden width D_ffn (Table 1); overrides mlp_ratio")
    qkv_bias: bool = True
    pos_embed: Literal["split", "full", "none"] = Field(
        "split",
        description="split: official code, a PxC/2 row table on the first half of the channels and a PxC/2 column table "
        "on the second half; full: Eq. 4, a P^2xC table; none: no position encoding (Table 8)",
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on attention weights, attention output and FFN (official ste_dropout)")

    def hidden(self, channels: int) -> int:
        """FFN hidden width D_ffn at `channels` channels."""
        return self.mlp_hidden if self.mlp_hidden is not None else int(channels * self.mlp_ratio)

    def check(self, site: Site) -> None:
        require(site.stride == 1 and site.out_channels == site.channels, "kind", "the patch-wise encoder keeps width and resolution; pick a block that projects")
        require(site.channels % self.heads == 0, "heads", f"{self.heads} does not divide {site.channels} channels")
        require(self.hidden(site.channels) >= 1, "mlp_ratio", f"{self.mlp_ratio} leaves no hidden channels")
        require(self.pos_embed != "split" or site.channels % 2 == 0, "pos_embed", f"split needs an even width, got {site.channels} channels")
        for i, p in enumerate(self.patches):
            require_divides(p, site.shape.resolution, f"patches[{i}]")


class ContBlockSpec(Spec):
    """ConT block (ConTNet §3.3, Fig. 1): x + conv(mixer(x)), pre-activated by the stage norm/act (official code).

    The stage's last block may widen to `out_channels` and stride by `last_stride`; its shortcut is then a
    1x1 (strided) conv. The stage norm and act are the block's pre-activation (BN, ReLU in the official
    code; "none" gives the paper's plain residual), and the stage takes no separate FFN.
    """

    kind: Literal["cont"] = "cont"
    kernel: int = Field(3, ge=1, description="kernel of the conv after the mixer")
    out_channels: int | None = Field(None, ge=1, description="output width of the stage's last block; None keeps the stage width")
    last_stride: int = Field(2, ge=1, description="stride of the last block's conv and shortcut (the stage's downsampling)")
    last_kernel: int | None = Field(None, ge=1, description="kernel of the last block's conv (ConTNet stage 4: 1); None uses kernel")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the last block's output (official last_dropout)")

    def conv(self, stage: "Stage", index: int) -> tuple[int, int, int]:
        """(kernel, stride, out_channels) of block `index`'s conv; only the stage's last block widens and strides."""
        if index < stage.depth - 1:
            return self.kernel, 1, stage.channels
        return self.last_kernel or self.kernel, self.last_stride, self.out_channels or stage.channels

    def sites(self, stage: "Stage", index: int, x: Shape, stride: int) -> BlockSites:
        """Field paths are relative to the stage."""
        require(stage.ffn is None, "ffn", "the cont block has no ffn (the encoders hold it); remove it")
        require(stride == 1, "downsample", "the cont block strides in the stage's last block (last_stride); use downsample kind 'none'")
        require(
            x.channels == stage.channels,
            "channels",
            f"{x.channels} channels arrive at a {stage.channels}-channel stage; set the previous stage's block.out_channels to match",
        )
        require_odd(self.kernel, "block.kernel")
        require_odd(self.last_kernel, "block.last_kernel")
        kernel, s, out = self.conv(stage, index)
        site = Site(x, x.channels, 1, stage.norm, stage.act, index)
        return BlockSites(site, None, Shape(out, conv_out(x.height, kernel, s), conv_out(x.width, kernel, s)))


MIXERS = (ContMixer,)
BLOCKS = (ContBlockSpec,)
