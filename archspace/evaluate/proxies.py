"""Zero-cost proxies: a score of an untrained network from one or a few batches (higher is better).

Each proxy is `fn(model, batches) -> float` with `batches` a list of (images, labels) on the model's
device. "Weights" below are the parameters with two or more dimensions (convolution kernels, linear
matrices, position tables), the layers the zero-cost-proxy papers score; norms and biases are left out.
Proxies are deterministic given the model and the batches: the caller seeds the initialisation and
the batch choice (see `archspace.evaluate.evaluator`). A proxy may leave gradients on the model.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from archspace.errors import ArchspaceError

Batch = tuple[torch.Tensor, torch.Tensor]
Proxy = Callable[[nn.Module, Sequence[Batch]], float]

PROXIES: dict[str, Proxy] = {}

# Activations whose input sign NASWOT reads as the unit's binary code (rectifier-like units).
RECTIFIERS = (nn.ReLU, nn.GELU, nn.SiLU, nn.Hardswish, nn.LeakyReLU, nn.ReLU6, nn.Mish)


def register_proxy(name: str) -> Callable[[Proxy], Proxy]:
    """Add a proxy to `PROXIES` under `name`."""

    def add(fn: Proxy) -> Proxy:
        PROXIES[name] = fn
        return fn

    return add


def weights(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The scored parameters: trainable tensors with at least two dimensions."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad and p.dim() >= 2]


def _backward_loss(model: nn.Module, batches: Sequence[Batch]) -> None:
    """Gradients of the mean cross-entropy over `batches` (train mode, fresh gradients)."""
    model.train()
    model.zero_grad(set_to_none=True)
    for images, labels in batches:
        (F.cross_entropy(model(images), labels) / len(batches)).backward()


@register_proxy("synflow")
def synflow(model: nn.Module, batches: Sequence[Batch]) -> float:
    """SynFlow (Tanaka et al., NeurIPS 2020, §6): sum over weights of theta * dR/dtheta, R = 1^T prod|W| 1 (all-ones input).

    As in Abdelfattah et al. (ICLR 2021, §3): parameters (not buffers such as attention masks) are
    replaced by their absolute values, the input is one all-ones image, the network runs in float64
    in eval mode; the data is not used. The model's parameters and dtype are restored afterwards.
    """
    dtype = next(model.parameters()).dtype
    was_training = model.training
    model.eval()
    model.double()
    params = list(model.parameters())
    with torch.no_grad():
        signs = [torch.sign(p) for p in params]
        for p in params:
            p.abs_()
    try:
        model.zero_grad(set_to_none=True)
        ones = torch.ones((1, *batches[0][0].shape[1:]), dtype=torch.float64, device=batches[0][0].device)
        model(ones).sum().backward()
        score = sum(float((p.detach() * p.grad).sum()) for _, p in weights(model) if p.grad is not None)
    finally:
        with torch.no_grad():
            for p, sign in zip(params, signs):
                p.mul_(sign)
        model.to(dtype)
        model.train(was_training)
    return score


@register_proxy("naswot")
def naswot(model: nn.Module, batches: Sequence[Batch]) -> float:
    """NASWOT (Mellor et al., ICML 2021, §3): log|K_H| with K_H[i,j] = N_A - Hamming(c_i, c_j) over rectifier codes.

    c_i is the binary code (pre-activation > 0) of image i at every rectifier unit of the network
    (ReLU, GELU, SiLU, ...); N_A is the number of units. Uses the first batch; -inf when two images
    share a code (a singular kernel).
    """
    images = batches[0][0]
    n = images.shape[0]
    kernel = torch.zeros((n, n), dtype=torch.float64, device=images.device)

    def add_codes(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        codes = (inputs[0].detach().reshape(n, -1) > 0).double()
        kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)

    hooks = [m.register_forward_hook(add_codes) for m in model.modules() if isinstance(m, RECTIFIERS)]
    if not hooks:
        raise ArchspaceError("proxy naswot: the network has no rectifier activations (ReLU, GELU, SiLU, ...) to read codes from")
    try:
        model.train()
        with torch.no_grad():
            model(images)
    finally:
        for hook in hooks:
            hook.remove()
    return float(torch.linalg.slogdet(kernel)[1])


@register_proxy("grad_norm")
def grad_norm(model: nn.Module, batches: Sequence[Batch]) -> float:
    """grad_norm (Abdelfattah et al., ICLR 2021, §3): sum over weight tensors of ||dL/dW||_2 for the cross-entropy L."""
    _backward_loss(model, batches)
    return sum(float(p.grad.norm()) for _, p in weights(model) if p.grad is not None)


@register_proxy("snip")
def snip(model: nn.Module, batches: Sequence[Batch]) -> float:
    """SNIP (Lee et al., ICLR 2019, §4.1 connection sensitivity |dL/dW * W|), summed over the network as Abdelfattah et al. (ICLR 2021, §3)."""
    _backward_loss(model, batches)
    return sum(float((p.grad * p.detach()).abs().sum()) for _, p in weights(model) if p.grad is not None)


@register_proxy("zico")
def zico(model: nn.Module, batches: Sequence[Batch]) -> float:
    """ZiCo (Li et al., ICLR 2023, §3.3): sum over layers of log(sum over the layer's weights of E|g| / std(g)), g per batch.

    g is the cross-entropy gradient of each weight on each batch; mean and (population) standard
    deviation are taken across batches, weights with zero deviation are skipped, and a layer whose
    sum is 0 adds nothing (as the authors' code). One batch is split into two halves.
    """
    if len(batches) == 1:
        images, labels = batches[0]
        if images.shape[0] < 2:
            raise ArchspaceError("proxy zico: needs two batches or one batch of at least two images")
        half = images.shape[0] // 2
        batches = [(images[:half], labels[:half]), (images[half:], labels[half:])]
    per_batch: dict[str, list[torch.Tensor]] = {}
    model.train()
    for images, labels in batches:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(images), labels).backward()
        for name, p in weights(model):
            if p.grad is not None:
                per_batch.setdefault(name, []).append(p.grad.detach().reshape(-1).double().clone())
    score = 0.0
    for grads in per_batch.values():
        g = torch.stack(grads)
        mean = g.mean(dim=0)
        std = (g - mean).square().mean(dim=0).sqrt()  # population std; elementwise (torch.std over dim 0 is slow here)
        keep = std > 0
        total = float((g.abs().mean(dim=0)[keep] / std[keep]).sum())
        if total > 0:
            score += math.log(total)
    return score


def unknown_proxy(name: str) -> str:
    """The reason given for a proxy name that is not registered."""
    return f"unknown proxy {name!r}; known proxies: {', '.join(sorted(PROXIES))}"


def get_proxy(name: str) -> Proxy:
    """The proxy called `name`; an unknown name lists the known ones."""
    if name not in PROXIES:
        raise ArchspaceError(f"proxy: {unknown_proxy(name)}")
    return PROXIES[name]
