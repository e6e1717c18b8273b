"""The op registry: maps each genotype spec class to the function that builds its module.

Builders by category (the builder calls them with these arguments):
  mixer, ffn:  fn(spec, site: Site) -> module mapping site.shape to site.out_shape (NCHW)
  stem:        fn(spec, in_chans: int) -> module
  downsample:  fn(spec, x: Shape, out: Shape) -> module
  block:       fn(spec, stage: Stage, block: BlockPlan) -> module
  head:        fn(spec, x: Shape, num_classes: int) -> module  (x: the final feature map)
"""
from __future__ import annotations

from typing import Any, Callable

from torch import nn

from archspace.registry import SpecRegistry

BUILDERS: SpecRegistry[Callable[..., nn.Module]] = SpecRegistry("op builder")
register = BUILDERS.register


def build_op(spec: Any, *args: Any) -> nn.Module:
    """Build the module for `spec`."""
    return BUILDERS.lookup(spec)(spec, *args)


def registered() -> dict[type, Callable[..., nn.Module]]:
    """A copy of the registry (spec class -> builder), every op family and block style imported first."""
    import archspace.blocks  # noqa: F401  (registers the block styles)
    import archspace.ops  # noqa: F401  (registers the ops)

    return BUILDERS.as_dict()
