"""Sanity limits every genotype must meet, so that no file can make archspace eat the machine.

Field caps (depth, width, image size, number of stages and blocks) are checked by the schema before
the plan is walked; the totals (parameters, multiply-adds, activation memory at batch 1) are computed
from the plan with the closed forms, before any tensor exists. The limits are far above any published
backbone (the largest zoo model has 88 M parameters and 15.4 G multiply-adds); building additionally
checks the memory estimate against the memory actually available (`archspace.cost.memory.check_fits`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from archspace.errors import GenotypeError

if TYPE_CHECKING:
    from archspace.genotype.schema import Genotype

MAX_STAGES = 32
MAX_DEPTH = 1000  # blocks in one stage
MAX_BLOCKS = 2048  # blocks in the whole network
MAX_CHANNELS = 2**17
MAX_IMAGE_SIZE = 16384
MAX_IN_CHANS = 1024
MAX_CLASSES = 10**6
MAX_PARAMS = 10**10
MAX_FLOPS = 10**13  # multiply-adds per image
MAX_ACTIVATION_BYTES = 2**36  # inference activation peak at batch 1, float32


def _si(n: float) -> str:
    if n >= 1e15:
        return f"{n:.3g}"
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


def check_blocks(genotype: "Genotype") -> None:
    """Refuse more than MAX_BLOCKS blocks in all, before the plan walks them."""
    blocks = sum(s.depth for s in genotype.stages)
    if blocks > MAX_BLOCKS:
        raise GenotypeError("stages", f"{blocks} blocks in all, over the limit of {MAX_BLOCKS}")


def check_totals(genotype: "Genotype") -> None:
    """Refuse a network whose parameters, multiply-adds or activation memory exceed the sanity limits.

    The error names the part (stem, a stage or the head) that contributes most to the exceeded total.
    """
    from archspace.cost.analytic import analytic_cost
    from archspace.cost.memory import analytic_memory

    cost = analytic_cost(genotype)
    parts = [("stem", cost.stem), *((f"stages[{i}]", c) for i, c in enumerate(cost.stages)), ("head", cost.head)]
    for attr, limit, what in (("params", MAX_PARAMS, "parameters"), ("flops", MAX_FLOPS, "multiply-adds per image")):
        value = getattr(cost.total, attr)
        if value > limit:
            where, part = max(parts, key=lambda p: getattr(p[1], attr))
            raise GenotypeError(where, f"the network would have {_si(value)} {what} ({_si(getattr(part, attr))} here), over the sanity limit of {_si(limit)}")
    act = analytic_memory(genotype, batch=1, params=cost.total.params).inference_activation_bytes
    if act > MAX_ACTIVATION_BYTES:
        where = _largest_map(genotype)
        raise GenotypeError(where, f"feature maps at {genotype.image_size} px need about {act / 2**30:.3g} GiB per image, over the sanity limit of {MAX_ACTIVATION_BYTES / 2**30:.0f} GiB; reduce image_size or channels")


def _largest_map(genotype: "Genotype") -> str:
    """The part (stem or a stage) holding the largest feature map."""
    from archspace.genotype.plan import plan

    p = plan(genotype)
    sizes = [("stem", p.stem)] + [(f"stages[{sp.index}]", b.output) for sp in p.stages for b in sp.blocks]
    return max(sizes, key=lambda s: s[1].channels * s[1].height * s[1].width)[0]
