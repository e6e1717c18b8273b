"""Walk a genotype's shapes stage by stage, without torch, checking every gene against its site.

The builder, the analytic cost and the validator all read this plan, so they agree on
every channel count and resolution.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archspace.errors import GenotypeError
from archspace.genotype.base import Shape, Site

if TYPE_CHECKING:
    from archspace.genotype.schema import Genotype


@dataclass(frozen=True)
class BlockPlan:
    """One block: its input and output shapes, stride, the mixer and FFN sites, drop-path rate."""

    stage: int
    index: int
    input: Shape
    output: Shape
    stride: int
    mixer: Site
    ffn: Site | None
    drop_path: float


@dataclass(frozen=True)
class StagePlan:
    """One stage: the shape entering its downsample layer, after it, and at its end."""

    index: int
    input: Shape
    downsampled: Shape
    output: Shape
    blocks: tuple[BlockPlan, ...]


@dataclass(frozen=True)
class NetworkPlan:
    """The image shape, the stem output, and every stage."""

    image: Shape
    stem: Shape
    stages: tuple[StagePlan, ...]

    def reduction(self, stage: int) -> int:
        """Total stride from the image to the end of `stage` (timm's feature_info reduction)."""
        return self.image.height // self.stages[stage].output.height


def _guard(path: str, fn, *args):
    """Run a spec method, placing any GenotypeError it raises under `path`."""
    try:
        return fn(*args)
    except GenotypeError as err:
        raise err.under(path) from None


def drop_path_rates(genotype: "Genotype") -> list[list[float]]:
    """Per-block drop-path rates: linear from 0 to drop_path_rate over all blocks (timm), stage overrides win."""
    total = sum(s.depth for s in genotype.stages)
    rates, k = [], 0
    for stage in genotype.stages:
        row = []
        for _ in range(stage.depth):
            linear = genotype.drop_path_rate * k / max(total - 1, 1)
            row.append(stage.drop_path if stage.drop_path is not None else linear)
            k += 1
        rates.append(row)
    return rates


def plan(genotype: "Genotype") -> NetworkPlan:
    """Shapes of every stage and block; raises GenotypeError(path, reason) for an invalid gene."""
    image = Shape(genotype.in_chans, genotype.image_size, genotype.image_size)
    x = _guard("stem", genotype.stem.output, image)
    if x.height < 1 or x.width < 1:
        raise GenotypeError("stem", f"reduces the {image.height}x{image.width} image to nothing")
    stem = x
    rates = drop_path_rates(genotype)
    stages = []
    for i, stage in enumerate(genotype.stages):
        where = f"stages[{i}]"
        entering = x
        x = _guard(f"{where}.downsample", stage.downsample.output, x, stage.channels)
        if x.height < 1 or x.width < 1:
            raise GenotypeError(f"{where}.downsample", f"reduces the map to nothing at stage {i}")
        downsampled = x
        blocks = []
        for j in range(stage.depth):
            stride = stage.downsample.block_stride if j == 0 else 1
            sites = _guard(where, stage.block.sites, stage, j, x, stride)
            _guard(f"{where}.mixer", stage.mixer.check, sites.mixer)
            if sites.ffn is not None:
                _guard(f"{where}.ffn", stage.ffn.check, sites.ffn)
            blocks.append(BlockPlan(i, j, x, sites.output, stride, sites.mixer, sites.ffn, rates[i][j]))
            x = sites.output
            if x.height < 1 or x.width < 1:
                raise GenotypeError(f"{where}.downsample", f"reduces the map to nothing at stage {i}")
        stages.append(StagePlan(i, entering, downsampled, x, tuple(blocks)))
    return NetworkPlan(image, stem, tuple(stages))
