"""Stem specs: the layers that turn the image into the first feature map."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspace.genotype.base import Act, ChannelAct, Norm, Shape, Spec, conv_out, require


class ResNetStem(Spec):
    """ResNet stem: KxK stride-2 conv, norm, act, then an optional 3x3 stride-2 max-pool."""

    kind: Literal["resnet"] = "resnet"
    channels: int = Field(64, ge=1)
    kernel: int = Field(7, ge=1)
    pool: bool = True
    norm: Norm = "batchnorm"
    act: Act = "relu"

    def output(self, x: Shape) -> Shape:
        h, w = conv_out(x.height, self.kernel, 2), conv_out(x.width, self.kernel, 2)
        if self.pool:
            h, w = conv_out(h, 3, 2), conv_out(w, 3, 2)
        return Shape(self.channels, h, w)


class ConvLayer(Spec):
    """One conv-norm-act layer of a conv stem."""

    channels: int = Field(ge=1)
    kernel: int = Field(3, ge=1)
    stride: int = Field(2, ge=1)
    groups: int = Field(1, ge=1, description="conv groups; must divide the input and output channels (depthwise: groups = channels, MobileFaceNet)")
    bias: bool = False
    norm: Norm = "batchnorm"
    act: ChannelAct = "relu"


class ConvStem(Spec):
    """A stack of conv-norm-act layers: e.g. two 3x3 stride-2 convs, or one 7x7 stride-4 conv."""

    kind: Literal["convs"] = "convs"
    layers: tuple[ConvLayer, ...] = Field(min_length=1)

    def output(self, x: Shape) -> Shape:
        c, h, w = x.channels, x.height, x.width
        for i, layer in enumerate(self.layers):
            for channels in (c, layer.channels):
                require(channels % layer.groups == 0, f"layers[{i}].groups", f"{layer.groups} does not divide {channels} channels")
            c, h, w = layer.channels, conv_out(h, layer.kernel, layer.stride), conv_out(w, layer.kernel, layer.stride)
        return Shape(c, h, w)


class PatchifyStem(Spec):
    """Non-overlapping PxP stride-P patch embedding conv followed by a norm (ViT / Swin / ConvNeXt)."""

    kind: Literal["patchify"] = "patchify"
    channels: int = Field(ge=1)
    patch: int = Field(4, ge=1)
    bias: bool = True
    norm: Norm = "layernorm"

    def output(self, x: Shape) -> Shape:
        return Shape(self.channels, x.height // self.patch, x.width // self.patch)


STEMS = (ResNetStem, ConvStem, PatchifyStem)
