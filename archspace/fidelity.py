"""Ours vs the paper for a published genotype, counted under the paper's own convention."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from archspace.cost.analytic import analytic_cost
from archspace.genotype import Genotype

if TYPE_CHECKING:
    from torch import nn

    from archspace.cost.counting import Counts

Counter = Literal["analytic", "fvcore"]

# fvcore operator buckets each exclusion removes from our full count. Modules may instead declare
# `count_exclusion = "<name>"`: their whole fvcore count is removed (DCNv3's sampling + aggregation).
EXCLUDED_OPERATORS = {
    "attention_matmul": ("matmul", "bmm", "einsum", "scaled_dot_product_attention"),
    "norm": ("batch_norm", "layer_norm", "group_norm", "instance_norm"),
    "pool": ("adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "max_pool2d"),
}
POS_EMBED_MARKER = "pos_embed"  # parameter names holding absolute position embeddings


@dataclass(frozen=True)
class Fidelity:
    """One zoo row: our params/FLOPs (full and under the paper's convention) beside the paper's."""

    name: str
    id: str
    family: str
    params: int
    flops: int
    params_paper_convention: int
    flops_paper_convention: int
    paper_params_m: float | None
    paper_flops_g: float | None
    paper_top1: float | None
    excludes: tuple[str, ...]
    counter: Counter = "analytic"
    paper_megaface_rank1: float | None = None

    @property
    def paper_accuracy(self) -> str:
        """The paper's accuracy with its metric named: ImageNet top-1, or MegaFace rank-1 for a face model."""
        if self.paper_top1:
            return f"{self.paper_top1} top-1"
        return f"{self.paper_megaface_rank1} MegaFace R1" if self.paper_megaface_rank1 else ""

    @property
    def params_delta(self) -> float | None:
        """(ours - paper) / paper, under the paper's convention."""
        if not self.paper_params_m:
            return None
        return self.params_paper_convention / (self.paper_params_m * 1e6) - 1

    @property
    def flops_delta(self) -> float | None:
        if not self.paper_flops_g:
            return None
        return self.flops_paper_convention / (self.paper_flops_g * 1e9) - 1

    def to_dict(self) -> dict:
        return {**asdict(self), "params_delta": self.params_delta, "flops_delta": self.flops_delta}


def convention_counts(counts: "Counts", model: "nn.Module", excludes: tuple[str, ...]) -> tuple[int, int]:
    """(params, FLOPs) with what the paper leaves out removed from our full count."""
    flops = counts.flops
    for exclusion in excludes:
        for op in EXCLUDED_OPERATORS.get(exclusion, ()):
            flops -= counts.operator_flops.get(op, 0)
    for name, module in model.named_modules():
        if getattr(module, "count_exclusion", None) in excludes:
            flops -= counts.module_flops.get(name, 0)
    params = counts.params
    if "pos_embed_params" in excludes:
        params -= sum(p.numel() for name, p in model.named_parameters() if POS_EMBED_MARKER in name)
    return params, flops


def fidelity(genotype: Genotype, counter: Counter = "analytic") -> Fidelity:
    """Count `genotype` (closed forms, in milliseconds; or fvcore on the built network) and compare with its reference."""
    ref = genotype.reference
    excludes = tuple(ref.excludes) if ref else ()
    if counter == "analytic":
        total = analytic_cost(genotype).total
        params, flops = total.params, total.flops
        paper = total.without(excludes)
        params_conv, flops_conv = paper.params, paper.flops
    else:
        from archspace.builder import build
        from archspace.cost.counting import count_model

        model = build(genotype)
        counts = count_model(model, genotype.image_size, genotype.in_chans)
        params, flops = counts.params, counts.flops
        params_conv, flops_conv = convention_counts(counts, model, excludes)
    family = (ref.family if ref and ref.family else None) or "/".join(sorted({s.mixer.kind for s in genotype.stages}))
    return Fidelity(
        genotype.name, genotype.id, family, params, flops, params_conv, flops_conv,
        ref.params_m if ref else None, ref.flops_g if ref else None, ref.top1 if ref else None, excludes, counter,
        ref.megaface_rank1 if ref else None,
    )
