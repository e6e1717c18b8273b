"""Attention through F.scaled_dot_product_attention: the same outputs and the same fvcore counts as explicit matmuls."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from archspace.cost.counting import count_model, flop_analysis, uncounted
from archspace.ops.sdpa import attention, explicit_matmuls


def _both(model: nn.Module, x: torch.Tensor):
    model.eval()
    with torch.no_grad():
        fused = model(x)
        with explicit_matmuls():
            reference = model(x)
    return fused, reference


def _flops(model: nn.Module, x: torch.Tensor) -> tuple[int, dict]:
    a = flop_analysis(model.eval(), (x,))
    return a.total(), uncounted(a.unsupported_ops())


def test_attention_matches_matmul_form_with_bias_and_scale():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    bias = torch.randn(3, 5, 7)
    bias[0, 0, :3] = float("-inf")
    for kwargs in ({}, {"bias": bias}, {"scale": 0.3}):
        fused = attention(q, k, v, **kwargs)
        with explicit_matmuls():
            reference = attention(q, k, v, **kwargs)
        assert fused.shape == (2, 3, 5, 4)
        torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-5)
    # a wrong scale would change the result
    assert not torch.allclose(attention(q, k, v, scale=1.0), attention(q, k, v))


def test_attention_gradients_match():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 6, 4, requires_grad=True) for _ in range(3))
    attention(q, k, v).square().sum().backward()
    fused = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    with explicit_matmuls():
        attention(q, k, v).square().sum().backward()
    for a, t in zip(fused, (q, k, v)):
        torch.testing.assert_close(a, t.grad, rtol=1e-5, atol=1e-5)


def _ops():
    from archspace.ops.attention import SpatialReductionAttention
    from archspace.ops.cont import PatchMHSA
    from archspace.ops.dmixer import OSRA
    from archspace.ops.window import HaloAttention, WindowAttention

    return {
        "sra": (SpatialReductionAttention(32, heads=2, sr=2), (1, 32, 8, 8)),
        "osra": (OSRA(32, heads=2, sr_stride=2, bias_shape=(64, 16)), (1, 32, 8, 8)),
        "swin_shifted": (WindowAttention(32, 2, size=(8, 8), window=(4, 4), shift=(2, 2)), (2, 32, 8, 8)),
        "halo": (HaloAttention(32, 2, size=(8, 8), block=(4, 4), halo=1), (1, 32, 8, 8)),
        "cont_patch": (PatchMHSA(32, 2), (3, 16, 32)),
    }


@pytest.mark.parametrize("name", ["sra", "osra", "swin_shifted", "halo", "cont_patch"])
def test_ops_equal_outputs_and_counts(name):
    torch.manual_seed(0)
    model, shape = _ops()[name]
    for p in model.parameters():  # non-zero position biases, so the bias path is exercised
        nn.init.normal_(p, std=0.2)
    x = torch.randn(shape)
    fused, reference = _both(model, x)
    torch.testing.assert_close(fused, reference, rtol=1e-4, atol=1e-5)
    flops, skipped = _flops(model, x)
    with explicit_matmuls():
        flops_ref, skipped_ref = _flops(model, x)
    assert flops == flops_ref and not skipped and not skipped_ref


@pytest.mark.parametrize("name", ["transcnn_small", "contnet_ti", "u_pvt_micro", "u_swin_micro", "u_halonet_micro",
                                  pytest.param("transxnet_t", marks=pytest.mark.slow)])
def test_zoo_models_equal_outputs_and_counts(name):
    from archspace.builder import build
    from archspace.genotype.adapt import adapt
    from archspace.zoo import zoo_genotype

    g = adapt(zoo_genotype(name), 32, 3, 10)
    torch.manual_seed(0)
    model = build(g).eval()
    x = torch.randn(1, 3, 32, 32)
    fused, reference = _both(model, x)
    torch.testing.assert_close(fused, reference, rtol=1e-4, atol=1e-4)
    counts = count_model(model, 32)
    with explicit_matmuls():
        reference_counts = count_model(model, 32)
    assert counts.flops == reference_counts.flops and not counts.uncounted_ops
    assert "scaled_dot_product_attention" in counts.operator_flops
