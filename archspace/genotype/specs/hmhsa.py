"""Specs of the TransCNN family: global MHSA, hierarchical MHSA (H-MHSA) and the two-branch downsample (TDB)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from archspace.genotype.base import Act, Norm, Shape, Site, Spec, require, require_divides


def _heads(channels: int, heads: int | None, head_dim: int) -> int:
    """Check the head genes against the width and return the number of heads."""
    if heads is not None:
        require(channels % heads == 0, "heads", f"{heads} does not divide {channels} channels")
        return heads
    require(channels % head_dim == 0, "head_dim", f"{head_dim} does not divide {channels} channels")
    return channels // head_dim


def _keeps_width(site: Site, what: str) -> None:
    require(site.out_channels == site.channels and site.stride == 1, "kind", f"{what} keeps width and resolution; use a downsample layer")


class MHSAMixer(Spec):
    """Global multi-head self-attention over all HxW tokens (Vaswani et al. §3.2.2; ViT Eq. 2)."""

    kind: Literal["mhsa"] = "mhsa"
    heads: int | None = Field(None, ge=1, description="number of heads, must divide the channels; None derives it from head_dim")
    head_dim: int = Field(64, ge=1, description="channels per head, used when heads is None; must divide the channels")
    qkv_bias: bool = True
    proj_bias: bool = True

    def num_heads(self, channels: int) -> int:
        return _heads(channels, self.heads, self.head_dim)

    def check(self, site: Site) -> None:
        _keeps_width(site, "mhsa")
        self.num_heads(site.channels)


@dataclass(frozen=True)
class Level:
    """One H-MHSA level at a given input map: how its keys are pooled and windowed.

    pool: factor by which the level's input stream is pooled into keys/values (1 at level 0; with
    query="full" the stream stays at full resolution, so the factor is cumulative);
    keys: (h, w) of the key/value map; windows: (rows, cols) of grid cells, the same for the queries;
    queries: (h, w) of the query map (the full map for level 0 and for query="full").
    """

    pool: int
    keys: tuple[int, int]
    windows: tuple[int, int]
    queries: tuple[int, int]

    @property
    def key_tokens(self) -> int:
        return (self.keys[0] // self.windows[0]) * (self.keys[1] // self.windows[1])

    @property
    def query_tokens(self) -> int:
        return (self.queries[0] // self.windows[0]) * (self.queries[1] // self.windows[1])


class HMHSAMixer(Spec):
    """Hierarchical MHSA (TransCNN §3.2, Eq. 5-12): attention in G0xG0 grids, pooled grids attended at the next level.

    `grids[i]` is the side, in tokens of level i's map, of the grid cells attention runs in; null
    (last level only) attends over the whole map. Level i > 0 pools the previous level's output by
    `pools[i-1]` (default: the previous grid size, Eq. 8). `query="full"` takes the next level's
    queries from the full-resolution map (TransCNN §4.1, Q = A0 Wq); "pooled" from the pooled map (Eq. 9).
    """

    kind: Literal["hmhsa"] = "hmhsa"
    grids: tuple[int | None, ...] = Field(
        min_length=1,
        description="grid cell side per level, in tokens of that level's map (TransCNN §3.2: G_i x G_i grids), e.g. [8, null]; "
        "null = the whole map. A cell size, not a number of cells: at another input size the cells keep their size and "
        "their number changes. Each G_i must divide the level's map (H_0 / (G_0...G_{i-1})).",
        json_schema_extra={"map_tied": "cell_size"},
    )
    pools: tuple[int, ...] | None = Field(None, description="pooling factor into each level > 0; None = the previous grid size",
                                          json_schema_extra={"map_tied": "ratio"})
    pooling: Literal["max_avg", "avg", "max"] = Field("max_avg", description="Eq. 8 max + average pooling; the 2021 code: avg")
    query: Literal["full", "pooled"] = "full"
    heads: int | None = Field(None, ge=1, description="number of heads, must divide the channels; None derives it from head_dim")
    head_dim: int = Field(64, ge=1, description="channels per head, used when heads is None; must divide the channels")
    qkv_bias: bool = True
    proj_bias: bool = True
    input_norm: bool = Field(False, description="stage norm on the projections' input inside the mixer; Eq. 7 adds the raw input (2021 code)")
    level_norm: bool = Field(False, description="stage norm on each pooled map and each non-last level output (2021 code)")

    def num_heads(self, channels: int) -> int:
        return _heads(channels, self.heads, self.head_dim)

    def levels(self, shape: Shape) -> tuple[Level, ...]:
        """Each level's pooling, key map and windows at an HxW input; refuses grids/pools that do not tile."""
        last = len(self.grids) - 1
        require(self.pools is None or len(self.pools) == last, "pools", f"needs {last} entries (one per level after the first), got {len(self.pools or ())}")
        full = (shape.height, shape.width)
        size, total, out = full, 1, []
        for i, grid in enumerate(self.grids):
            step = 1
            if i > 0:
                step = self.pools[i - 1] if self.pools is not None else self.grids[i - 1]
                field = f"pools[{i - 1}]" if self.pools is not None else f"grids[{i - 1}]"
                require(step >= 1, field, f"pooling factor must be positive, got {step}")
                require_divides(step, size, field)
                size, total = (size[0] // step, size[1] // step), total * step
            if grid is None:
                require(i == last, f"grids[{i}]", "only the last level can be global (null): the next level pools its grid cells")
                windows = (1, 1)
            else:
                require(grid >= 1, f"grids[{i}]", f"must be positive, got {grid}")
                require_divides(grid, size, f"grids[{i}]")
                windows = (size[0] // grid, size[1] // grid)
            if self.query == "full":
                out.append(Level(total, size, windows, full))
            else:
                out.append(Level(step, size, windows, size))
        return tuple(out)

    def multiple(self) -> int:
        """The side every map must be a multiple of for all levels to tile (grids are cell sizes in tokens)."""
        out, steps = 1, 1
        for i, grid in enumerate(self.grids):
            if i > 0:
                steps *= self.pools[i - 1] if self.pools is not None else (self.grids[i - 1] or 1)
                out = math.lcm(out, steps)
            if grid is not None:
                out = math.lcm(out, steps * grid)
        return out

    def check(self, site: Site) -> None:
        _keeps_width(site, "hmhsa")
        self.num_heads(site.channels)
        self.levels(site.shape)


class TDBDownsample(Spec):
    """Two-branch downsampling block (TransCNN §3.3, Fig. 1d): 3x3 s2 conv + (2x2 pool -> 1x1 conv), summed."""

    kind: Literal["tdb"] = "tdb"
    pool: Literal["max", "avg"] = "max"
    bias: bool = True
    norm: Norm = Field("batchnorm", description="norm closing each branch")
    act: Act = Field("silu", description="activation after the sum")
    block_stride: Literal[1] = 1

    def output(self, x: Shape, channels: int) -> Shape:
        require(x.height % 2 == 0 and x.width % 2 == 0, "kind", f"the two-branch downsample needs an even map, got {x.height}x{x.width}")
        return Shape(channels, x.height // 2, x.width // 2)


MIXERS = (MHSAMixer, HMHSAMixer)
DOWNSAMPLES = (TDBDownsample,)
