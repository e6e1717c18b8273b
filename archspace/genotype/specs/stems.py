"""Stem specs: the layers that turn the image into the first feature map."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspace.genotype.base import Act, Norm, Shape, Spec, conv_out


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
    bias: bool = False
    norm: Norm = "batchnorm"
    act: Act = "relu"


class ConvStem(Spec):
    """A stack of conv-norm-act layers: e.g. two 3x3 stride-2 convs, or one 7x7 stride-4 conv."""

    kind: Literal["convs"] = "convs"
    layers: tuple[ConvLayer, ...] = Field(min_length=1)

    def output(self, x: Shape) -> Shape:
        h, w = x.height, x.width
        for layer in self.layers:
            h, w = conv_out(h, layer.kernel, layer.stride), conv_out(w, layer.kernel, layer.stride)
        return Shape(self.layers[-1].channels, h, w)


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
