"""Put a target-resolution genotype onto evaluation data: the one rule every searched and published model follows.

The rule (`adapt`):

1. `image_size`, `in_chans` and `num_classes` become the data's. Widths, depths, kernels and every
   other gene stay as they are, so the network evaluated is the one whose costs are reported.
2. A map-tied gene -- a length in tokens that must tile the map it runs on: Swin windows, Halo blocks,
   H-MHSA grids (and explicit pools), ConT patch sizes, OSRA strides (D-Mixer `sr_stride`) and PVT
   `sr` -- keeps its value where it still tiles the smaller map; otherwise it becomes the largest
   value below it that tiles every map the stage's mixer runs on (H-MHSA: level by level, on the
   pooled maps). So a 7x7 window on an 8x8 map becomes 4x4, a 14-token ConT patch on an 8x8 map
   becomes 8 (the whole map), and an OSRA stride of 8 on an 8x8 map stays 8. At the target
   resolution nothing changes (same genotype id). TransCNN notes that its grids can be reset per task
   without retraining; the same holds for every gene above, since none of them sizes a weight except
   the position biases below.
3. Position encodings sized by the map or window (D-Mixer position bias, Swin relative position bias,
   ConT patch position tables, MetaFormer absolute embeddings) are sized at build time from the
   adapted maps: nothing is interpolated, since an evaluation trains from scratch.
4. Provenance: the name gains `@<size>px`, the paper reference is dropped (its numbers are for the
   target resolution), and `notes` records the source id.

A network whose non-tied layers cannot run on the smaller image (a stem that reduces it to nothing,
a downsample that needs an even map) is refused with a GenotypeError naming the field and the size.
Torch-free.
"""
from __future__ import annotations

from typing import Any

from archspace.errors import GenotypeError
from archspace.genotype.base import Shape
from archspace.genotype.io import canonical_dict, genotype_from_dict
from archspace.genotype.schema import Genotype
from archspace.genotype.specs import MIXERS


def tile(value: int, sides: list[int]) -> int:
    """The largest t <= value that divides every map side in `sides` (at least 1)."""
    for t in range(min([value, *sides]), 0, -1):
        if all(s % t == 0 for s in sides):
            return t
    return 1


def _mixer_sides(genotype: Genotype, image_size: int, in_chans: int) -> list[list[int]]:
    """For each stage, the map sides its mixer runs on at `image_size` (every block's mixer site)."""
    x = genotype.stem.output(Shape(in_chans, image_size, image_size))
    if x.height < 1 or x.width < 1:
        raise GenotypeError("image_size", f"{image_size} px: the stem reduces the image to nothing")
    out = []
    for i, stage in enumerate(genotype.stages):
        where = f"stages[{i}]"
        try:
            x = stage.downsample.output(x, stage.channels)
        except GenotypeError as err:
            raise GenotypeError(f"{where}.downsample.{err.path}".rstrip("."), f"{err.reason} at {image_size} px") from None
        if x.height < 1 or x.width < 1:
            raise GenotypeError(f"{where}.downsample", f"reduces the map to nothing at {image_size} px")
        sides: set[int] = set()
        for j in range(stage.depth):
            stride = stage.downsample.block_stride if j == 0 else 1
            try:
                sites = stage.block.sites(stage, j, x, stride)
            except GenotypeError as err:
                raise err.under(where) from None
            sides.update(sites.mixer.shape.resolution)
            x = sites.output
            if x.height < 1 or x.width < 1:
                raise GenotypeError(f"{where}.downsample", f"reduces the map to nothing at {image_size} px")
        out.append(sorted(sides))
    return out


def _hmhsa(mixer: dict[str, Any], sides: list[int]) -> None:
    """H-MHSA grids (and explicit pools) level by level on the pooled maps."""
    grids, pools = list(mixer["grids"]), mixer.get("pools")
    pools = list(pools) if pools is not None else None
    for i, grid in enumerate(grids):
        if i > 0:
            if pools is not None:
                pools[i - 1] = tile(pools[i - 1], sides)
                step = pools[i - 1]
            else:
                step = grids[i - 1]
            sides = [s // step for s in sides]
        if grid is not None:
            grids[i] = tile(grid, sides)
    mixer["grids"] = grids
    if pools is not None:
        mixer["pools"] = pools


def _tied_fields(spec) -> tuple[str, ...]:
    """The genes a mixer spec declares map-tied and that adapt resizes (cell sizes and ratios; a position bias sized by the
    token count is rebuilt at build time instead)."""
    return tuple(name for name, f in spec.model_fields.items()
                 if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("map_tied") in ("cell_size", "ratio"))


MAP_TIED = {spec.model_fields["kind"].default: fields for spec in MIXERS if (fields := _tied_fields(spec))}


def _adapt_mixer(mixer: dict[str, Any], sides: list[int]) -> None:
    """Rule 2 on one stage's mixer (in place), for the genes its spec declares map-tied."""
    fields = MAP_TIED.get(mixer["kind"], ())
    if "grids" in fields:  # H-MHSA: level by level, each on the map pooled by the levels before
        _hmhsa(mixer, sides)
        return
    for name in fields:
        value = mixer[name]
        mixer[name] = [tile(v, sides) for v in value] if isinstance(value, (list, tuple)) else tile(value, sides)


def adapt(genotype: Genotype, image_size: int, in_chans: int, num_classes: int) -> Genotype:
    """`genotype` (at its target resolution) put onto data of `image_size` px, `in_chans` channels, `num_classes` classes."""
    for name, value, low in (("image_size", image_size, 8), ("in_chans", in_chans, 1), ("num_classes", num_classes, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise GenotypeError(name, f"must be an integer >= {low}, got {value!r}")
    sides = _mixer_sides(genotype, image_size, in_chans)
    data = canonical_dict(genotype)
    for stage, stage_sides in zip(data["stages"], sides):
        _adapt_mixer(stage["mixer"], stage_sides)
    same_size = image_size == genotype.image_size
    data.update(image_size=image_size, in_chans=in_chans, num_classes=num_classes)
    if not same_size:
        data.update(
            name=f"{genotype.name}@{image_size}px",
            reference=None,
            notes=f"adapted from {genotype.id} ({genotype.image_size} px) by archspace.genotype.adapt",
        )
    try:
        return genotype_from_dict(data)
    except GenotypeError as err:
        raise GenotypeError(err.path, f"{err.reason} (adapting {genotype.name} to {image_size} px)") from None


def changed_genes(genotype: Genotype, adapted: Genotype) -> dict[str, tuple[Any, Any]]:
    """The map-tied genes `adapt` changed: {"stages[0].mixer.window": (7, 4), ...}."""
    out: dict[str, tuple[Any, Any]] = {}
    for i, (a, b) in enumerate(zip(genotype.stages, adapted.stages)):
        for field in MAP_TIED.get(a.mixer.kind, ()):
            before, after = getattr(a.mixer, field), getattr(b.mixer, field)
            if before != after:
                out[f"stages[{i}].mixer.{field}"] = (before, after)
    return out


__all__ = ["MAP_TIED", "adapt", "changed_genes", "tile"]
