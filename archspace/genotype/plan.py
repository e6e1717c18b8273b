"""Walk a genotype's shapes stage by stage, without torch, checking every gene against its site.

The builder, the analytic cost and the validator all read this plan, so they agree on
every channel count and resolution.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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


def image_shape(genotype: "Genotype", size: int | tuple[int, int] | None = None) -> Shape:
    """The input image shape: the genotype's own square size, or `size` (an int or (height, width))."""
    if size is None:
        size = genotype.image_size
    h, w = (size, size) if isinstance(size, int) else size
    if h < 1 or w < 1:
        raise GenotypeError("image_size", f"must be positive, got {h}x{w}")
    return Shape(genotype.in_chans, h, w)


@dataclass
class PlanProgress:
    """What the walk has planned so far: complete stages, and the blocks of the stage in progress."""

    image: Shape
    stem: Shape | None = None
    stages: list[StagePlan] = field(default_factory=list)
    current: list[BlockPlan] = field(default_factory=list)
    entering: Shape | None = None
    downsampled: Shape | None = None


def _walk(genotype: "Genotype", progress: PlanProgress) -> NetworkPlan:
    image = progress.image
    x = _guard("stem", genotype.stem.output, image)
    if x.height < 1 or x.width < 1:
        raise GenotypeError("stem", f"reduces the {image.height}x{image.width} image to nothing")
    progress.stem = x
    rates = drop_path_rates(genotype)
    for i, stage in enumerate(genotype.stages):
        where = f"stages[{i}]"
        progress.entering, progress.downsampled, progress.current = x, None, []
        x = _guard(f"{where}.downsample", stage.downsample.output, x, stage.channels)
        if x.height < 1 or x.width < 1:
            raise GenotypeError(f"{where}.downsample", f"reduces the map to nothing at stage {i}")
        progress.downsampled = x
        for j in range(stage.depth):
            stride = stage.downsample.block_stride if j == 0 else 1
            sites = _guard(where, stage.block.sites, stage, j, x, stride)
            _guard(f"{where}.mixer", stage.mixer.check, sites.mixer)
            if sites.ffn is not None:
                _guard(f"{where}.ffn", stage.ffn.check, sites.ffn)
            progress.current.append(BlockPlan(i, j, x, sites.output, stride, sites.mixer, sites.ffn, rates[i][j]))
            x = sites.output
            if x.height < 1 or x.width < 1:
                raise GenotypeError(f"{where}.downsample", f"reduces the map to nothing at stage {i}")
        progress.stages.append(StagePlan(i, progress.entering, progress.downsampled, x, tuple(progress.current)))
        progress.entering, progress.downsampled, progress.current = None, None, []
    return NetworkPlan(image, progress.stem, tuple(progress.stages))


def plan(genotype: "Genotype", size: int | tuple[int, int] | None = None) -> NetworkPlan:
    """Shapes of every stage and block at the genotype's input size (or `size`); raises GenotypeError(path, reason)."""
    return _walk(genotype, PlanProgress(image_shape(genotype, size)))


def plan_until_error(genotype: "Genotype", size: int | tuple[int, int] | None = None) -> tuple[PlanProgress, GenotypeError | None]:
    """Plan as far as the genotype is valid: the progress made, and the error that stopped it (None if valid)."""
    progress = PlanProgress(image_shape(genotype, size))
    try:
        _walk(genotype, progress)
    except GenotypeError as err:
        return progress, err
    return progress, None
