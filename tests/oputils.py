"""Shared test helpers: count a single op with fvcore and compare with its closed form."""
from __future__ import annotations

import torch
from torch import nn

import archspace.builder  # noqa: F401  (registers every op and block)
from archspace.cost.analytic import cost_of
from archspace.cost.counting import flop_analysis, uncounted
from archspace.genotype.base import Shape, Site
from archspace.ops.registry import build_op


def fvcore_counts(module: nn.Module, *inputs: torch.Tensor) -> tuple[int, int]:
    """(params, fvcore FLOPs with archspace's handlers) of one eval-mode forward pass; no op may go uncounted."""
    module.eval()
    with torch.no_grad():
        analysis = flop_analysis(module, inputs)
        flops = int(analysis.total())
    missed = uncounted(dict(analysis.unsupported_ops()))
    assert not missed, f"fvcore skipped ops that may carry multiply-adds: {missed} (add a handler in archspace.cost.counting)"
    return sum(p.numel() for p in module.parameters()), flops


def site(channels: int, h: int, w: int | None = None, out: int | None = None, stride: int = 1, norm: str = "layernorm", act: str = "gelu") -> Site:
    """A mixer/FFN site with the given input map."""
    return Site(Shape(channels, h, h if w is None else w), channels if out is None else out, stride, norm, act)


def assert_op_matches_closed_form(spec, at: Site) -> nn.Module:
    """Build the op at `at`, check its output shape, and check params/FLOPs equal the closed form exactly."""
    module = build_op(spec, at)
    x = torch.randn(1, at.channels, at.shape.height, at.shape.width)
    module.eval()
    with torch.no_grad():
        y = module(x)
    expected = at.out_shape
    assert tuple(y.shape) == (1, expected.channels, expected.height, expected.width)
    params, flops = fvcore_counts(module, x)
    closed = cost_of(spec, at)
    assert (closed.params, closed.flops) == (params, flops), f"closed form {closed} != fvcore ({params}, {flops})"
    return module


def assert_backward(module: nn.Module, shape: tuple[int, ...]) -> None:
    """A backward pass reaches the input and every parameter that takes part."""
    module.train()
    x = torch.randn(*shape, requires_grad=True)
    module(x).square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for name, p in module.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
