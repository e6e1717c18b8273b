"""Feed-forward (channel-mixer) specs: MLP and inverted residual bottleneck."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspace.genotype.base import Site, Spec, require, require_odd


def hidden_channels(channels: int, ratio: float) -> int:
    """Hidden width of an FFN: int(channels * ratio), as timm and the papers round it."""
    return int(channels * ratio)


class MLPFFN(Spec):
    """Two pointwise layers with an activation between: C -> ratio*C -> C (ViT / Swin / ConvNeXt)."""

    kind: Literal["mlp"] = "mlp"
    ratio: float = Field(4.0, gt=0)
    bias: bool = True

    def check(self, site: Site) -> None:
        require(hidden_channels(site.channels, self.ratio) >= 1, "ratio", f"{self.ratio} leaves no hidden channels")


class IRBFFN(Spec):
    """Inverted residual bottleneck (MobileNetV2; TransCNN Fig. 1c): 1x1 expand, KxK depthwise, 1x1 project."""

    kind: Literal["irb"] = "irb"
    ratio: float = Field(4.0, gt=0)
    kernel: int = Field(3, ge=1)
    norm: bool = Field(True, description="stage norm after each conv, as MobileNetV2")
    bias: bool = False

    def check(self, site: Site) -> None:
        require_odd(self.kernel, "kernel")
        require(hidden_channels(site.channels, self.ratio) >= 1, "ratio", f"{self.ratio} leaves no hidden channels")


FFNS = (MLPFFN, IRBFFN)
