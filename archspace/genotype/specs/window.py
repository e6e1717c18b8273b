"""Local-attention mixer specs: Swin shifted-window attention and HaloNet halo attention."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspace.genotype.base import Site, Spec, require


def _same_width(site: Site, kind: str) -> None:
    require(site.stride == 1, "kind", f"{kind} attention cannot stride; use a downsample layer")
    require(site.out_channels == site.channels, "kind", f"{kind} attention keeps the width; pick a block that projects")


def _heads_divide(heads: int, channels: int) -> None:
    require(channels % heads == 0, "heads", f"{heads} does not divide {channels} channels")


class SwinMixer(Spec):
    """Shifted-window multi-head self-attention (Swin §3.2): W-MSA, shifted by window // 2 on odd blocks.

    A map side not larger than the window becomes one window there, unshifted (timm's rule), so the
    last Swin-T stage (7x7 map, window 7) never shifts and small proxy maps stay valid.
    """

    kind: Literal["swin"] = "swin"
    heads: int = Field(ge=1, description="attention heads; must divide the channels")
    window: int = Field(
        7, ge=1, description="window side M in tokens (Swin §3.2: MxM windows); a cell size, not a number of windows: at another input size the windows keep their size and their number changes; must divide the map (a map not larger than M is one window)", json_schema_extra={"map_tied": "cell_size"},
    )
    shift: Literal["alternate", "none"] = Field("alternate", description="alternate: odd blocks of a stage shift by window // 2")
    qkv_bias: bool = True
    rel_pos_bias: bool = Field(True, description="learned bias per head and relative offset, (2Wh-1)(2Ww-1) entries (Swin Eq. 4)")

    def window_at(self, site: Site) -> tuple[tuple[int, int], tuple[int, int]]:
        """(window (Wh, Ww), shift (Sh, Sw)) at `site`: clamped to the map, shifted on odd blocks where the map exceeds it."""
        shifted = self.shift == "alternate" and site.index % 2 == 1
        sizes = site.shape.resolution
        window = tuple(min(self.window, r) for r in sizes)
        shift = tuple(self.window // 2 if shifted and r > self.window else 0 for r in sizes)
        return window, shift  # type: ignore[return-value]

    def check(self, site: Site) -> None:
        _same_width(site, "swin")
        _heads_divide(self.heads, site.channels)
        (wh, ww), _ = self.window_at(site)
        h, w = site.shape.resolution
        require(h % wh == 0 and w % ww == 0, "window", f"{self.window} does not divide the {h}x{w} map")


class HaloMixer(Spec):
    """Blocked local self-attention with haloed neighbourhoods (HaloNet, Vaswani et al. 2021; STM-evaluation §3.2.4).

    Queries are BxB blocks; each attends to its (B+2H)x(B+2H) window (zero-padded halo pixels masked out),
    with relative position embeddings q.(r_row + r_col) per head dimension. A map smaller than the block
    is one block.
    """

    kind: Literal["halo"] = "halo"
    heads: int = Field(ge=1, description="attention heads; must divide the channels")
    block: int = Field(
        7, ge=1, description="query block side B in tokens (HaloNet); a cell size, not a number of blocks: at another input size the blocks keep their size; must divide the map (a smaller map is one block)", json_schema_extra={"map_tied": "cell_size"},
    )
    halo: int = Field(3, ge=0, description="halo H: each block attends to a (B+2H)^2 window")
    qkv_bias: bool = Field(False, description="the STM-evaluation HaloAttn has no q/k/v bias")
    norm_eps: float = Field(1e-5, gt=0, le=0.1, description="eps of the LayerNorms of this mixer's block, norm1/norm2 (STM-evaluation's halo block: nn.LayerNorm's 1e-5)")

    def block_at(self, site: Site) -> tuple[int, int]:
        """Query block (Bh, Bw) at `site`: clamped to the map."""
        return tuple(min(self.block, r) for r in site.shape.resolution)  # type: ignore[return-value]

    def check(self, site: Site) -> None:
        _same_width(site, "halo")
        _heads_divide(self.heads, site.channels)
        bh, bw = self.block_at(site)
        h, w = site.shape.resolution
        require(h % bh == 0 and w % bw == 0, "block", f"{self.block} does not divide the {h}x{w} map")


MIXERS = (SwinMixer, HaloMixer)
