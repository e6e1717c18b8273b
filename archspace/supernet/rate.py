"""Rating a subnet: inherited weights, BatchNorm statistics recalibrated on a few training batches, val accuracy.

The shared BatchNorm statistics are a mix over every path trained, so each rated subnet gets its own: reset,
then the cumulative average (momentum None) over `calib_batches` seeded training batches with the rest of
the network in eval mode (no drop path), as OFA and BigNAS do before evaluating a subnet. The supernet's own
statistics are not touched.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader

from archspace.evaluate.data import DataBundle
from archspace.genotype.schema import Genotype
from archspace.supernet.owners import owned_buffer
from archspace.supernet.supernet import Supernet


def _calibration_batches(bundle: DataBundle, batch_size: int, batches: int, seed: int) -> list[torch.Tensor]:
    loader = DataLoader(bundle.train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    out = []
    for images, _ in loader:
        out.append(images)
        if len(out) == batches:
            break
    return out


@torch.no_grad()
def rate(supernet: Supernet, genotype: Genotype, bundle: DataBundle, calib_batches: int = 4, batch_size: int = 64,
         seed: int = 0, device: str | torch.device = "cpu", val: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> float:
    """Validation accuracy (fraction) of `genotype` with the supernet's weights and recalibrated BN statistics.

    `val`: the validation batches, when the caller rates many subnets and loads them once.
    calib_batches=0 keeps the supernet's shared statistics (a copy; they are not updated).
    """
    module = supernet.subnet(genotype)
    tensors = {n: t.detach() for n, t in supernet.path_tensors(genotype, module).items()}
    for name, t in tensors.items():
        if owned_buffer(name) and calib_batches > 0:
            tensors[name] = torch.zeros_like(t) if not name.endswith("running_var") else torch.ones_like(t)
    norms = [m for m in module.modules() if isinstance(m, _BatchNorm)]
    momenta = [m.momentum for m in norms]
    module.eval()
    try:
        if norms and calib_batches > 0:
            for m in norms:
                m.momentum = None
                m.train()
            for images in _calibration_batches(bundle, batch_size, calib_batches, seed):
                functional_call(module, tensors, (images.to(device),))
            module.eval()
        loader = val if val is not None else DataLoader(bundle.val, batch_size=2 * batch_size)
        correct = total = 0
        for images, labels in loader:
            logits = functional_call(module, tensors, (images.to(device),))
            correct += int((logits.argmax(1) == labels.to(device)).sum())
            total += labels.numel()
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
    return correct / max(total, 1)


def standalone(supernet: Supernet, genotype: Genotype) -> nn.Module:
    """`archspace.build(genotype)` with the supernet's weights on that path (eval mode)."""
    from archspace.builder import build

    net = build(genotype)
    net.load_state_dict(supernet.extract(genotype))
    return net.eval()
