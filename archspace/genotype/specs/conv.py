"""Convolutional token-mixer specs: plain conv, depthwise conv, SCSC."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspace.genotype.base import Site, Spec, require


class ConvMixer(Spec):
    """A plain KxK convolution (the 3x3 of a ResNet bottleneck); may stride and change width."""

    kind: Literal["conv"] = "conv"
    kernel: int = Field(3, ge=1)
    groups: int = Field(1, ge=1)
    bias: bool = False

    def check(self, site: Site) -> None:
        require(self.kernel % 2 == 1, "kernel", f"must be odd, got {self.kernel}")
        for field, channels in (("groups", site.channels), ("groups", site.out_channels)):
            require(channels % self.groups == 0, field, f"{self.groups} does not divide {channels} channels")


class DWConvMixer(Spec):
    """A KxK depthwise convolution (ConvNeXt, U-DWConv); may stride, keeps the width."""

    kind: Literal["dwconv"] = "dwconv"
    kernel: int = Field(7, ge=1)
    bias: bool = True

    def check(self, site: Site) -> None:
        require(self.kernel % 2 == 1, "kernel", f"must be odd, got {self.kernel}")
        require(site.out_channels == site.channels, "kind", "a depthwise conv keeps the width; pick a block that projects")


MIXERS = (ConvMixer, DWConvMixer)
