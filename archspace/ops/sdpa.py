"""The attention product softmax(Q K^T * scale + B) V (Vaswani et al. 2017, Eq. 1) every attention op shares.

It runs through `F.scaled_dot_product_attention`, so a GPU uses the fused flash / memory-efficient
kernels; fvcore counts the fused op exactly as the two matmuls it replaces (L*S*(E + Ev) multiply-adds
per batch and head, the `aten::scaled_dot_product_attention` handle in `archspace.cost.counting`).
`explicit_matmuls()` switches to the matmul form (QK^T, softmax, AV) for comparison; exports (torch.export,
ONNX) use it too, since the ONNX translation of SDPA takes neither 5-D inputs nor a broadcast bias.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch.nn import functional as F

_EXPLICIT = [False]


@contextmanager
def explicit_matmuls() -> Iterator[None]:
    """Inside this block attention is computed as explicit matmuls (the reference the SDPA form is checked against)."""
    _EXPLICIT.append(True)
    try:
        yield
    finally:
        _EXPLICIT.pop()


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None,
              scale: float | None = None, dropout: float = 0.0) -> torch.Tensor:
    """Scaled dot-product attention (Vaswani et al. 2017, Eq. 1) of q [..., L, E], k [..., S, E], v [..., S, Ev];
    `bias` (broadcast to [..., L, S]) is added to the logits, `scale` defaults to E^-1/2, `dropout` acts on the weights."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    if _EXPLICIT[-1] or torch.compiler.is_exporting():
        logits = (q * scale) @ k.transpose(-2, -1)
        if bias is not None:
            logits = logits + bias
        weights = logits.softmax(dim=-1)
        if dropout:
            weights = F.dropout(weights, dropout)
        return weights @ v
    if bias is not None:
        bias = bias.to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout, scale=scale)
