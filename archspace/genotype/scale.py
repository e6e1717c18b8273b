"""Proxy width: a genotype with every width divided by one factor, as a CPU benchmark trains it.

`narrow(genotype, divisor)` divides the stage widths, the stem's width (or its layers' widths) and the channels per
attention head (so every stage keeps its number of heads) by `divisor`. Depths, kernels, ratios, the
mixer and FFN kinds and every map-tied gene stay as they are, so the narrowed network has the same
architecture at a fraction of the cost (FLOPs fall by about divisor^2). Torch-free.
"""
from __future__ import annotations

from archspace.errors import GenotypeError
from archspace.genotype.io import canonical_dict, genotype_from_dict
from archspace.genotype.schema import Genotype

PER_HEAD = ("head_dim",)  # mixer genes that are channels per head


def _divide(value: int, divisor: int, path: str) -> int:
    if value % divisor:
        raise GenotypeError(path, f"{value} is not divisible by the width divisor {divisor}")
    return value // divisor


def narrow(genotype: Genotype, divisor: int) -> Genotype:
    """`genotype` with its widths divided by `divisor` (1: unchanged); a width it does not divide is refused."""
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 1:
        raise GenotypeError("width_divisor", f"must be an integer >= 1, got {divisor!r}")
    if divisor == 1:
        return genotype
    data = canonical_dict(genotype)
    if data["stem"].get("channels"):  # a single-width stem (ResNet-style: ConTNet, ResNet-SCSC)
        data["stem"]["channels"] = _divide(data["stem"]["channels"], divisor, "stem.channels")
    for j, layer in enumerate(data["stem"].get("layers") or []):
        if layer.get("channels"):
            layer["channels"] = _divide(layer["channels"], divisor, f"stem.layers[{j}].channels")
    for i, stage in enumerate(data["stages"]):
        stage["channels"] = _divide(stage["channels"], divisor, f"stages[{i}].channels")
        if stage["block"].get("out_channels"):
            stage["block"]["out_channels"] = _divide(stage["block"]["out_channels"], divisor, f"stages[{i}].block.out_channels")
        for gene in PER_HEAD:
            if stage["mixer"].get(gene):
                stage["mixer"][gene] = _divide(stage["mixer"][gene], divisor, f"stages[{i}].mixer.{gene}")
    data["name"] = f"{genotype.name}/w{divisor}"
    try:
        return genotype_from_dict(data)
    except GenotypeError as err:
        raise GenotypeError(err.path, f"{err.reason} (widths divided by {divisor})") from None


__all__ = ["narrow"]
