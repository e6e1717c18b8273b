"""Dynamic-convolution specs: DCNv3 (InternImage), the STM-evaluation dynamic-convolution mixer."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspace.genotype.base import Site, Spec, require, require_odd


class DCNv3Mixer(Spec):
    """DCNv3: per-group KxK sampling points shifted by learned offsets, softmax-normalised modulation."""

    kind: Literal["dcnv3"] = "dcnv3"
    groups: int = Field(1, ge=1, description="groups sharing one set of offsets and modulation weights; must divide the channels")
    kernel: int = Field(3, ge=1, description="sampling grid side: kernel**2 points per group")
    dw_kernel: int = Field(3, ge=1, description="depthwise conv of the offset/modulation branch")
    offset_scale: float = Field(1.0, gt=0)
    norm_eps: float = Field(
        1e-5, gt=0, le=0.1,
        description="eps of the LayerNorms of this mixer's offset branch and of its block's norm1/norm2 (STM-evaluation's DCNv3 block: nn.LayerNorm's 1e-5)",
    )

    def check(self, site: Site) -> None:
        require(site.stride == 1 and site.out_channels == site.channels, "kind", "DCNv3 keeps the map and width; pick a block that projects")
        require(site.channels % self.groups == 0, "groups", f"{self.groups} does not divide {site.channels} channels")
        require_odd(self.kernel, "kernel")
        require_odd(self.dw_kernel, "dw_kernel")


MIXERS = (DCNv3Mixer,)
