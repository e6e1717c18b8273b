"""Stems: image -> first feature map."""
from __future__ import annotations

from torch import nn

from archspace.genotype.specs.stems import ConvStem, PatchifyStem, ResNetStem
from archspace.ops.layers import ConvNormAct, norm_layer
from archspace.ops.registry import register


@register(ResNetStem)
def build_resnet_stem(spec: ResNetStem, in_chans: int) -> nn.Module:
    """ResNet stem (He et al. Table 1, conv1 + max-pool)."""
    layers = [ConvNormAct(in_chans, spec.channels, spec.kernel, 2, norm=spec.norm, act=spec.act)]
    if spec.pool:
        layers.append(nn.MaxPool2d(3, 2, 1))
    return nn.Sequential(*layers)


@register(ConvStem)
def build_conv_stem(spec: ConvStem, in_chans: int) -> nn.Module:
    """Stacked conv-norm-act layers (TransCNN §3.1 two 3x3 s2 convs; STM-evaluation stem; TransXNet 7x7 s4; MobileFaceNet Table 1 conv + depthwise conv)."""
    layers, c = [], in_chans
    for layer in spec.layers:
        layers.append(ConvNormAct(c, layer.channels, layer.kernel, layer.stride, layer.groups, layer.bias, layer.norm, layer.act))
        c = layer.channels
    return nn.Sequential(*layers)


@register(PatchifyStem)
def build_patchify_stem(spec: PatchifyStem, in_chans: int) -> nn.Module:
    """Non-overlapping PxP patch embedding + norm (ViT Eq. 1; Swin §3.1; ConvNeXt §2.2)."""
    return nn.Sequential(nn.Conv2d(in_chans, spec.channels, spec.patch, spec.patch, bias=spec.bias), norm_layer(spec.norm)(spec.channels))
