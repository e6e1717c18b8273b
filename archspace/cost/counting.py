"""Params and FLOPs of a built network with fvcore. One FLOP = one multiply-add (fvcore and the papers)."""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # fvcore scripts a loss with torch.jit at import time
    from fvcore.nn import FlopCountAnalysis


@dataclass(frozen=True)
class Counts:
    """Parameters and multiply-adds, in total and per named submodule."""

    params: int
    flops: int
    module_params: dict[str, int] = field(default_factory=dict)
    module_flops: dict[str, int] = field(default_factory=dict)
    unsupported_ops: dict[str, int] = field(default_factory=dict)


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
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    analysis = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # fvcore traces with torch.jit, which warns on every call
        total = analysis.total()
        by_module = dict(analysis.by_module())
    model.train(was_training)
    module_params = _params_by_module(model)
    return Counts(
        params=module_params.get("", 0),
        flops=int(total),
        module_params=module_params,
        module_flops={k: int(v) for k, v in by_module.items()},
        unsupported_ops=dict(analysis.unsupported_ops()),
    )
