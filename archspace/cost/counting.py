"""Params and FLOPs of a built network with fvcore. One FLOP = one multiply-add (fvcore and the papers).

fvcore's default handlers are extended (`HANDLES`) so that every multiply-add our ops execute is
counted exactly once:

- ``aten::scaled_dot_product_attention``: QK^T plus AV, L*S*(E + Ev) per batch and head (fvcore drops it);
- ``aten::einsum``: each pairwise product, left to right, counts the product of its index sizes, ``...``
  included (one multiply-add per term); one operand is a permutation (0) or a reduction (one per
  input element);
- ``aten::grid_sampler``: 4 per output element bilinear (fvcore's figure), 0 nearest, 16 bicubic;
- reductions read every input element once: ``aten::mean``, ``aten::sum``, adaptive average pooling
  (fvcore's convention, 1 per input element) and ``aten::avg_pool*`` (kernel area per output element);
- ``aten::baddbmm`` as ``aten::bmm``; ``aten::upsample_bicubic2d`` 16 per output element.

Ops in `ZERO_MAC_OPS` (element-wise arithmetic and activations, softmax, max pooling, padding and
reshapes) carry no multiply-add and count 0. Any other op that fvcore skips is reported in
`Counts.uncounted_ops`; the tests treat one as an error.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod
from typing import Any

import torch
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # fvcore scripts a loss with torch.jit at import time
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import bmm_flop_jit, get_shape


def _sdpa(inputs: list[Any], outputs: list[Any]) -> int:
    """QK^T ([.., L, E] x [.., E, S]) plus AV ([.., L, S] x [.., S, Ev])."""
    q, k, v = (get_shape(t) for t in inputs[:3])
    return prod(q[:-1]) * k[-2] * (q[-1] + v[-1])


def _einsum(inputs: list[Any], outputs: list[Any]) -> int:
    """Multiply-adds of an einsum: one per term of each pairwise product, left to right (as torch evaluates it)."""
    equation = inputs[0].toIValue().replace(" ", "")
    shapes = [get_shape(v) for v in inputs[1].node().inputs()]
    if "..." in equation:  # name the broadcast dimensions with letters the equation does not use
        spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in equation]
        rank = max(len(shape) - len(t.replace("...", "")) for t, shape in zip(equation.split("->")[0].split(","), shapes))
        equation = equation.replace("...", "".join(spare[:rank]))  # numpy aligns them from the right
        fixed = []
        for t, shape in zip(equation.split("->")[0].split(","), shapes):
            extra = len(t) - len(shape)
            fixed.append(t.replace("".join(spare[:extra]), "", 1) if extra > 0 else t)
        equation = ",".join(fixed) + ("->" + equation.split("->")[1] if "->" in equation else "")
    terms, _, result = equation.partition("->")
    operands = terms.split(",")
    sizes: dict[str, int] = {}
    for letters, shape in zip(operands, shapes):
        sizes.update(zip(letters, shape))
    if len(operands) == 1:
        kept = result if "->" in equation else [c for c in operands[0] if operands[0].count(c) == 1]
        return 0 if set(kept) == set(operands[0]) else prod(shapes[0])
    if "->" not in equation:
        result = "".join(sorted(c for c in sizes if terms.count(c) == 1))
    macs, left = 0, operands[0]
    for i, right in enumerate(operands[1:], start=2):
        macs += prod(sizes[c] for c in set(left) | set(right))
        later = set(result).union(*operands[i:])
        left = "".join(c for c in dict.fromkeys(left + right) if c in later)
    return macs


def _grid_sampler(inputs: list[Any], outputs: list[Any]) -> int:
    """Interpolation weights x values: bilinear 4, nearest 0, bicubic 16 per output element."""
    per_output = {0: 4, 1: 0, 2: 16}[inputs[2].toIValue()]
    return per_output * prod(get_shape(outputs[0]))


def _read_once(inputs: list[Any], outputs: list[Any]) -> int:
    """A reduction (mean, sum, adaptive average pooling): one per input element."""
    return prod(get_shape(inputs[0]))


def _avg_pool(inputs: list[Any], outputs: list[Any]) -> int:
    """Average pooling: the kernel area per output element."""
    kernel = inputs[1].toIValue()
    if kernel is None:  # a list built in the graph
        kernel = [v.toIValue() for v in inputs[1].node().inputs()]
    if isinstance(kernel, int):
        kernel = [kernel]
    return prod(kernel) * prod(get_shape(outputs[0]))


def _per_output(n: int) -> Callable[[list[Any], list[Any]], int]:
    def handle(inputs: list[Any], outputs: list[Any]) -> int:
        return n * prod(get_shape(outputs[0]))

    return handle


HANDLES: dict[str, Callable[[list[Any], list[Any]], int]] = {
    "aten::scaled_dot_product_attention": _sdpa,
    "aten::einsum": _einsum,
    "aten::grid_sampler": _grid_sampler,
    "aten::grid_sampler_2d": _grid_sampler,
    "aten::mean": _read_once,
    "aten::sum": _read_once,
    "aten::adaptive_avg_pool1d": _read_once,
    "aten::adaptive_avg_pool3d": _read_once,
    "aten::avg_pool1d": _avg_pool,
    "aten::avg_pool2d": _avg_pool,
    "aten::avg_pool3d": _avg_pool,
    "aten::baddbmm": lambda inputs, outputs: bmm_flop_jit(inputs[1:3], outputs),
    "aten::upsample_bicubic2d": _per_output(16),
}
"""Handlers added to fvcore's defaults (op name -> multiply-adds)."""

ZERO_MAC_OPS = frozenset(
    "aten::" + name
    for name in """
    add add_ sub sub_ rsub mul mul_ div div_ neg reciprocal abs sign pow sqrt rsqrt exp log erf tanh
    relu relu_ gelu gelu_ silu silu_ sigmoid sigmoid_ hardswish hardswish_ hardsigmoid hardsigmoid_
    hardtanh hardtanh_ leaky_relu leaky_relu_ prelu softplus elu softmax log_softmax
    max_pool1d max_pool2d max_pool3d max_pool2d_with_indices adaptive_max_pool1d adaptive_max_pool2d
    pad constant_pad_nd reflection_pad2d replication_pad2d
    view reshape flatten unflatten permute transpose contiguous clone expand expand_as repeat
    repeat_interleave unfold im2col col2im pixel_shuffle pixel_unshuffle channel_shuffle cat stack
    chunk split split_with_sizes narrow slice select index index_select gather scatter where
    masked_fill roll flip squeeze unsqueeze dropout feature_dropout alpha_dropout detach to copy_
    arange linspace meshgrid zeros ones zeros_like ones_like full full_like empty new_zeros new_ones
    lt le gt ge eq ne clamp clamp_ clamp_min clamp_max floor ceil round floor_divide remainder
    """.split()
)
"""Ops that carry no multiply-add: element-wise arithmetic and activations, softmax, max pooling, data movement."""


def flop_analysis(model: nn.Module, inputs: Any) -> FlopCountAnalysis:
    """fvcore's FlopCountAnalysis with archspace's handlers set and its warnings off."""
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    analysis = FlopCountAnalysis(model, inputs).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    for name, handle in HANDLES.items():
        analysis.set_op_handle(name, handle)
    return analysis


def uncounted(unsupported: dict[str, int]) -> dict[str, int]:
    """The ops fvcore skipped that are not known to carry zero multiply-adds."""
    return {op: n for op, n in unsupported.items() if op not in ZERO_MAC_OPS}


@dataclass(frozen=True)
class Counts:
    """Parameters and multiply-adds, in total and per named submodule."""

    params: int
    flops: int
    module_params: dict[str, int] = field(default_factory=dict)
    module_flops: dict[str, int] = field(default_factory=dict)
    operator_flops: dict[str, int] = field(default_factory=dict)
    unsupported_ops: dict[str, int] = field(default_factory=dict)

    @property
    def uncounted_ops(self) -> dict[str, int]:
        """Skipped ops that may carry multiply-adds (an error: give them a handler in HANDLES)."""
        return uncounted(self.unsupported_ops)


def _params_by_module(model: nn.Module) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")[:-1]
        for depth in range(len(parts) + 1):
            key = ".".join(parts[:depth])
            counts[key] = counts.get(key, 0) + p.numel()
    return counts


def count_model(model: nn.Module, image_size: int | tuple[int, int], in_chans: int = 3, batch: int = 1) -> Counts:
    """Count params and fvcore FLOPs for one forward pass of `batch` images (eval mode)."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    was_training = model.training
    model.eval()
    x = torch.zeros(batch, in_chans, h, w)
    analysis = flop_analysis(model, x)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # fvcore traces with torch.jit, which warns on every call
        total = analysis.total()
        by_module = dict(analysis.by_module())
        by_operator = dict(analysis.by_operator())
    model.train(was_training)
    module_params = _params_by_module(model)
    return Counts(
        params=module_params.get("", 0),
        flops=int(total),
        module_params=module_params,
        module_flops={k: int(v) for k, v in by_module.items()},
        operator_flops={k: int(v) for k, v in by_operator.items()},
        unsupported_ops=dict(analysis.unsupported_ops()),
    )
