"""Feed-forward networks (channel mixers) on NCHW maps."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from archspace.genotype.base import Site
from archspace.genotype.specs.ffn import IRBFFN, MLPFFN, hidden_channels
from archspace.ops.layers import act_layer, norm_layer
from archspace.ops.registry import register


class MLP(nn.Module):
    """Transformer FFN as 1x1 convs: W2 act(W1 x) (Vaswani et al. Eq. 2; ViT Eq. 3)."""

    def __init__(self, channels: int, hidden: int, act: type[nn.Module] = nn.GELU, bias: bool = True):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=bias)
        self.act = act()
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the 1x1 convs applied as linear layers over channels-last tokens: same weights and MACs, but the
        # CPU GEMM path (a 1x1 Conv2d takes the slow im2col path single-threaded): convnext_t 1.08x -> 0.97x timm
        x = F.linear(x.permute(0, 2, 3, 1), self.fc1.weight.flatten(1), self.fc1.bias)
        x = F.linear(self.act(x), self.fc2.weight.flatten(1), self.fc2.bias)
        return x.permute(0, 3, 1, 2)


class InvertedResidualFFN(nn.Module):
    """Inverted residual bottleneck without its shortcut (MobileNetV2 Table 1; TransCNN Fig. 1c): 1x1, KxK DW, 1x1."""

    def __init__(self, channels: int, hidden: int, kernel: int = 3, norm=nn.BatchNorm2d, act: type[nn.Module] = nn.SiLU, bias: bool = False):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=bias)
        self.norm1 = norm(hidden)
        self.act1 = act()
        self.dw = nn.Conv2d(hidden, hidden, kernel, 1, kernel // 2, groups=hidden, bias=bias)
        self.norm2 = norm(hidden)
        self.act2 = act()
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=bias)
        self.norm3 = norm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.norm1(self.fc1(x)))
        x = self.act2(self.norm2(self.dw(x)))
        return self.norm3(self.fc2(x))


@register(MLPFFN)
def build_mlp(spec: MLPFFN, site: Site) -> nn.Module:
    return MLP(site.channels, hidden_channels(site.channels, spec.ratio), act_layer(site.act), spec.bias)


@register(IRBFFN)
def build_irb(spec: IRBFFN, site: Site) -> nn.Module:
    norm = norm_layer(site.norm if spec.norm else "none")
    return InvertedResidualFFN(site.channels, hidden_channels(site.channels, spec.ratio), spec.kernel, norm, act_layer(site.act), spec.bias)
