"""Every shipped genotype: analytic == fvcore exactly, no op uncounted, and torch's flop counter agrees on matrix products."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import archspace
from archspace.cost.analytic import analytic_cost
from archspace.cost.counting import count_model
from archspace.ops.sdpa import explicit_matmuls

MATMUL_OPS = ("conv", "linear", "matmul", "bmm", "einsum", "addmm", "baddbmm", "scaled_dot_product_attention")
FILES = sorted((Path(__file__).parent.parent / "genotypes").glob("*.json"))
FAST_GFLOPS = 1.1  # larger networks take seconds each to trace: they run with --runslow


def _param(path: Path):
    g = archspace.load_genotype(path)
    heavy = analytic_cost(g).total.flops > FAST_GFLOPS * 1e9
    return pytest.param(g, id=path.stem, marks=[pytest.mark.slow] if heavy else [])


@pytest.mark.parametrize("genotype", [_param(f) for f in FILES])
def test_zoo_analytic_equals_fvcore(genotype):
    model = archspace.build(genotype).eval()
    counts = count_model(model, genotype.image_size, genotype.in_chans)
    assert not counts.uncounted_ops, f"fvcore skipped {counts.uncounted_ops}"
    total = analytic_cost(genotype).total
    assert (total.params, total.flops) == (counts.params, counts.flops)
    # torch's counter has no formula for the CPU fused attention kernel: count the attention product as matmuls
    with torch.no_grad(), FlopCounterMode(display=False) as counter, explicit_matmuls():
        model(torch.zeros(1, genotype.in_chans, genotype.image_size, genotype.image_size))
    assert counter.get_total_flops() == 2 * sum(v for k, v in counts.operator_flops.items() if k in MATMUL_OPS)
