"""Convolutional token-mixer specs: plain conv, depthwise conv, SCSC."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from archspace.genotype.base import Act, Norm, Site, Spec, require, require_odd
from archspace.genotype.specs.blocks import SqueezeExcite


class ConvMixer(Spec):
    """A plain KxK convolution (the 3x3 of a ResNet bottleneck); may stride and change width."""

    kind: Literal["conv"] = "conv"
    kernel: int = Field(3, ge=1)
    groups: int = Field(1, ge=1, description="conv groups; must divide the input and output channels")
    bias: bool = False

    def check(self, site: Site) -> None:
        require_odd(self.kernel, "kernel")
        for field, channels in (("groups", site.channels), ("groups", site.out_channels)):
            require(channels % self.groups == 0, field, f"{self.groups} does not divide {channels} channels")


class DWConvMixer(Spec):
    """A KxK depthwise convolution (ConvNeXt, U-DWConv); may stride, keeps the width."""

    kind: Literal["dwconv"] = "dwconv"
    kernel: int = Field(7, ge=1)
    bias: bool = True
    proj: bool = Field(False, description="1x1 input and output projections (with bias) around the depthwise conv (STM-evaluation §3.2.1)")

    def check(self, site: Site) -> None:
        require_odd(self.kernel, "kernel")
        require(site.out_channels == site.channels, "kind", "a depthwise conv keeps the width; pick a block that projects")


class SCSCMixer(Spec):
    """Spatial Cross-scale Convolution (SCSC paper §3.1): reduce to C_in/m, m depthwise kernels, per-pixel fusion, recover.

    m = len(kernels). The reduced width is the INPUT width (times `expansion`) over m (Eq. 1; the official ResNet-SCSC too);
    the output width is the site's (a residual block may widen, as ResNet-SCSC does), and the site's
    stride goes to the depthwise branches and the Spatial Embed Module (first block of a ResNet stage).
    """

    kind: Literal["scsc"] = "scsc"
    kernels: tuple[Annotated[int, Field(ge=1)], ...] = Field((3, 9, 13), min_length=1, description="depthwise kernel sizes, odd, one branch each; m = len(kernels) must divide the input channels C_in")
    g: int = Field(4, ge=1, description="combination groups of the Spatial Embed Module (Eq. 4-5); must divide the reduced width C_in / m")
    norm: Norm = Field("batchnorm", description="norm after the reduction, the branches and the recovery (official code)")
    act: Act = Field("gelu", description="activation after the reduction and after the branches (official code)")
    out_act: Act = Field("none", description="activation after the recovery norm (ResNet-SCSC: gelu; Swin-T-SCSC: none)")
    expansion: float = Field(1.0, gt=0, description="reduced width = C_in x expansion / m: 1 is Eq. 1; MobileFaceNet-SCSC's expansion 3 widens the branches as the inverted bottleneck it replaces")
    shuffle: bool = Field(False, description="official code's channel shuffle over the m branches before the fusion")
    se: SqueezeExcite | None = Field(None, description="squeeze-excitation at the module's end (official Swin-T-SCSC)")

    @property
    def m(self) -> int:
        return len(self.kernels)

    def widened(self, channels: int) -> int:
        """The input width times the expansion (rounded): the m branches together have this width."""
        return int(round(channels * self.expansion))

    def reduced(self, channels: int) -> int:
        """The branch width C_in x expansion / m (Eq. 1)."""
        return self.widened(channels) // self.m

    def check(self, site: Site) -> None:
        for i, k in enumerate(self.kernels):
            require_odd(k, f"kernels[{i}]")
        wide = self.widened(site.channels)
        what = "input channels" if self.expansion == 1 else f"expanded channels (C_in x {self.expansion})"
        require(wide >= self.m and wide % self.m == 0, "kernels", f"{self.m} kernels (m) do not divide the {wide} {what}")
        reduced = wide // self.m
        require(reduced % self.g == 0, "g", f"{self.g} does not divide the {reduced} reduced channels (C_in / m)")


MIXERS = (ConvMixer, DWConvMixer, SCSCMixer)
