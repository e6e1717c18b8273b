"""Shared pieces of the genotype schema: the frozen base model, feature shapes, site checks.

Nothing here imports torch: a genotype is plain data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from archspace.errors import GenotypeError

MAX_GENE_NUMBER = 2**31 - 1
Norm = Literal["batchnorm", "layernorm", "groupnorm", "none"]
Act = Literal["relu", "gelu", "silu", "hardswish", "sigmoid", "none"]
# An activation of a layer whose width the spec knows: adds PReLU (He et al. 2015, Eq. 1), one learned slope per channel.
ChannelAct = Literal["relu", "gelu", "silu", "hardswish", "sigmoid", "prelu", "none"]


class Spec(BaseModel):
    """A frozen, strict piece of a genotype; unknown fields, NaN and infinities are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="after")
    def _bounded_numbers(self) -> "Spec":
        """Refuse number genes beyond 32 bits (a stride of 2**63 overflows torch; a ratio of 1e308 makes an infinite width)."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            for i, x in enumerate(value if isinstance(value, tuple) else (value,)):
                if isinstance(x, (int, float)) and not isinstance(x, bool) and abs(x) > MAX_GENE_NUMBER:
                    raise GenotypeError(f"{name}[{i}]" if isinstance(value, tuple) else name, f"{x} is beyond the {MAX_GENE_NUMBER} limit of a number gene")
        return self


@dataclass(frozen=True)
class Shape:
    """A feature map: channels and spatial size (height, width)."""

    channels: int
    height: int
    width: int

    @property
    def resolution(self) -> tuple[int, int]:
        return (self.height, self.width)

    def with_(self, channels: int | None = None, height: int | None = None, width: int | None = None) -> "Shape":
        return Shape(
            self.channels if channels is None else channels,
            self.height if height is None else height,
            self.width if width is None else width,
        )


@dataclass(frozen=True)
class Site:
    """Where a mixer or FFN sits: its input shape, output channels, stride, the stage's layers, the block's index."""

    shape: Shape
    out_channels: int
    stride: int = 1
    norm: Norm = "layernorm"
    act: Act = "gelu"
    index: int = 0  # the block's index in its stage (Swin shifts the windows of odd blocks)

    @property
    def channels(self) -> int:
        return self.shape.channels

    @property
    def out_shape(self) -> Shape:
        return Shape(self.out_channels, conv_out(self.shape.height, 1, self.stride), conv_out(self.shape.width, 1, self.stride))


def conv_out(size: int, kernel: int, stride: int, padding: int | None = None) -> int:
    """Spatial output size of a convolution (padding defaults to kernel // 2)."""
    pad = kernel // 2 if padding is None else padding
    return (size + 2 * pad - kernel) // stride + 1


def require(condition: bool, field: str, reason: str) -> None:
    """Raise a GenotypeError at `field` unless `condition` holds."""
    if not condition:
        raise GenotypeError(field, reason)


def require_odd(value: int | None, field: str) -> None:
    """Refuse an even kernel size (None means the gene is off)."""
    require(value is None or value % 2 == 1, field, f"must be odd, got {value}")


def require_divides(value: int, size: tuple[int, int], field: str, what: str = "map") -> None:
    """Refuse a window/grid/patch `value` that does not tile an HxW map."""
    h, w = size
    require(
        value > 0 and h % value == 0 and w % value == 0,
        field,
        f"{value} does not divide the {h}x{w} {what}",
    )
