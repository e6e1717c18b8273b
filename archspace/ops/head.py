"""Classifier heads."""
from __future__ import annotations

import torch
from torch import nn

from archspace.genotype.specs.heads import LinearHead
from archspace.ops.layers import ConvNormAct, norm_layer
from archspace.ops.registry import register


class ClassifierHead(nn.Module):
    """Optional pre-pool widening, norm (before or after the global average pool), optional post-pool widening, dropout, linear."""

    def __init__(self, spec: LinearHead, in_channels: int, num_classes: int):
        super().__init__()
        hidden = spec.hidden
        c = in_channels
        self.pre_pool = nn.Identity()
        self.post_pool = nn.Identity()
        if hidden is not None and hidden.position == "pre_pool":
            self.pre_pool = ConvNormAct(c, int(c * hidden.ratio), 1, norm=hidden.norm, act=hidden.act)
            c = int(c * hidden.ratio)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.norm = norm_layer(spec.norm)(c)
        self.norm_pre_pool = spec.norm_position == "pre_pool"
        if hidden is not None and hidden.position == "post_pool":
            self.post_pool = ConvNormAct(c, int(c * hidden.ratio), 1, norm=hidden.norm, act=hidden.act)
            c = int(c * hidden.ratio)
        self.num_features = c
        self.drop = nn.Dropout(spec.dropout)
        self.fc = nn.Linear(c, num_classes) if num_classes > 0 else nn.Identity()

    def reset(self, num_classes: int) -> None:
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pre_pool(x)
        x = self.pool(self.norm(x)) if self.norm_pre_pool else self.norm(self.pool(x))
        x = self.post_pool(x)
        x = self.drop(x.flatten(1))
        return x if pre_logits else self.fc(x)


@register(LinearHead)
def build_linear_head(spec: LinearHead, in_channels: int, num_classes: int) -> nn.Module:
    return ClassifierHead(spec, in_channels, num_classes)
