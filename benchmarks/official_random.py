"""Random weights of a useful size for an equivalence check: every tensor differs, nothing is near zero or one."""
from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Conv/linear weights ~ N(0, 1/fan_in); norm scales 1 + 0.2 N; all other tensors 0.2 N; BN statistics random.

    The official inits zero some tensors (DCNv3 offsets, layer-scale biases) or scale them by 1e-5 (layer scale),
    which would hide a wrong key map; this gives every tensor a value that moves the output.
    """
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        noise = torch.randn(p.shape, generator=g)
        if name.endswith("weight") and p.ndim >= 2:
            fan_in = p[0].numel()
            p.copy_(noise / max(fan_in, 1) ** 0.5)
        elif name.endswith("weight") and p.ndim == 1:
            p.copy_(1 + 0.2 * noise)
        else:
            p.copy_(0.2 * noise)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
            module.running_mean.copy_(0.2 * torch.randn(module.running_mean.shape, generator=g))
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=g) + 0.5)
    return model
