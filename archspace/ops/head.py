"""Heads: the classifier head, and the embedding heads of face-recognition models."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from archspace.genotype.base import Shape
from archspace.genotype.specs.heads import FlatEmbeddingHead, GDCHead, LinearHead
from archspace.ops.layers import ConvNormAct, MapSized, norm_layer
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


class EmbeddingHead(MapSized, nn.Module):
    """An embedding (weights spanning the whole final map, built at `size`), then `fc` when num_classes > 0, else the
    embedding is the output. Another map size is refused, or resized to the built size (bilinear) when dynamic."""

    def __init__(self, size: tuple[int, int], embed: nn.Module, embedding_size: int, num_classes: int):
        super().__init__()
        self.size = size
        self.embed = embed
        self.num_features = embedding_size
        self.fc = nn.Linear(embedding_size, num_classes) if num_classes > 0 else nn.Identity()

    def reset(self, num_classes: int) -> None:
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def fit(self, x: torch.Tensor) -> torch.Tensor:
        """The final map at the built size: as it is, resized when dynamic, else refused."""
        h, w = x.shape[-2:]
        if (h, w) == self.size:
            return x
        if not self.dynamic:
            self.refuse(h, w, f"only {self.size[0]}x{self.size[1]} (its kernel spans the whole final map)")
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.embed(self.fit(x))
        return x if pre_logits else self.fc(x)


class GDCEmbedding(nn.Module):
    """MobileFaceNet embedding (Chen et al. 2018 §3.2 Eq. 1, Table 1): 1x1 conv-BN-act, linear GDConv (depthwise, kernel = map) + BN, linear + BN."""

    def __init__(self, spec: GDCHead, x: Shape):
        super().__init__()
        c = spec.channels or x.channels
        self.conv = ConvNormAct(x.channels, c, 1, norm="batchnorm", act=spec.act) if spec.channels else nn.Identity()
        self.gdconv = nn.Conv2d(c, c, x.resolution, groups=c, bias=False)
        self.gdconv_norm = nn.BatchNorm2d(c)
        self.linear = nn.Linear(c, spec.embedding_size, bias=False)
        self.norm = nn.BatchNorm1d(spec.embedding_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gdconv_norm(self.gdconv(self.conv(x))).flatten(1)
        return self.norm(self.linear(x))


class FlatEmbedding(nn.Module):
    """Face-ResNet embedding, output option E of ArcFace (Deng et al. 2019): BN2d, dropout, FC over the flattened C*H*W map (a conv whose kernel is the map), BN1d."""

    def __init__(self, spec: FlatEmbeddingHead, x: Shape):
        super().__init__()
        self.in_norm = nn.BatchNorm2d(x.channels)
        self.drop = nn.Dropout(spec.dropout)
        self.linear = nn.Conv2d(x.channels, spec.embedding_size, x.resolution)
        self.norm = nn.BatchNorm1d(spec.embedding_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.linear(self.drop(self.in_norm(x))).flatten(1))


@register(LinearHead)
def build_linear_head(spec: LinearHead, x: Shape, num_classes: int) -> nn.Module:
    return ClassifierHead(spec, x.channels, num_classes)


@register(GDCHead)
def build_gdc_head(spec: GDCHead, x: Shape, num_classes: int) -> nn.Module:
    return EmbeddingHead(x.resolution, GDCEmbedding(spec, x), spec.embedding_size, num_classes)


@register(FlatEmbeddingHead)
def build_flat_embedding_head(spec: FlatEmbeddingHead, x: Shape, num_classes: int) -> nn.Module:
    return EmbeddingHead(x.resolution, FlatEmbedding(spec, x), spec.embedding_size, num_classes)
