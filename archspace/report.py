"""Per-stage cost report of a built network (what `archspace build` prints)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from archspace.builder import ArchNet
from archspace.cost.counting import count_model
from archspace.genotype import Genotype


@dataclass(frozen=True)
class StageRow:
    """One row of the layer table."""

    name: str
    resolution: str
    channels: int
    depth: int
    mixer: str
    params: int
    flops: int


@dataclass(frozen=True)
class BuildReport:
    """Name, id, totals, output shape and per-stage rows of a built genotype."""

    name: str
    id: str
    params: int
    flops: int
    output_shape: list[int]
    stages: list[StageRow]

    def to_dict(self) -> dict:
        return asdict(self)


def build_report(genotype: Genotype, model: ArchNet) -> BuildReport:
    """Count the built model with fvcore at the genotype's input size and summarise it per stage."""
    counts = count_model(model, genotype.image_size, genotype.in_chans)
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, genotype.in_chans, genotype.image_size, genotype.image_size))
    rows = [StageRow("stem", "x".join(map(str, model.plan.stem.resolution)), model.plan.stem.channels, 1, genotype.stem.kind,
                     counts.module_params.get("stem", 0), counts.module_flops.get("stem", 0))]
    for i, (stage, sp) in enumerate(zip(genotype.stages, model.plan.stages)):
        key = f"stages.{i}"
        rows.append(StageRow(f"stage{i + 1}", "x".join(map(str, sp.output.resolution)), sp.output.channels, stage.depth,
                             stage.mixer.kind, counts.module_params.get(key, 0), counts.module_flops.get(key, 0)))
    rows.append(StageRow("head", "1x1", model.head.num_features, 1, genotype.head.kind,
                         counts.module_params.get("head", 0), counts.module_flops.get("head", 0)))
    return BuildReport(genotype.name, genotype.id, counts.params, counts.flops, list(out.shape), rows)
