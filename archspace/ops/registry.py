"""The op registry: maps each genotype spec class to the function that builds its module.

Builders by category (the builder calls them with these arguments):
  mixer, ffn:  fn(spec, site: Site) -> module mapping site.shape to site.out_shape (NCHW)
  stem:        fn(spec, in_chans: int) -> module
  downsample:  fn(spec, x: Shape, out: Shape) -> module
  block:       fn(spec, stage: Stage, block: BlockPlan) -> module
  head:        fn(spec, in_channels: int, num_classes: int) -> module
"""
from __future__ import annotations

from typing import Any, Callable

from torch import nn

from archspace.errors import ArchspaceError

_BUILDERS: dict[type, Callable[..., nn.Module]] = {}


def register(*spec_types: type) -> Callable:
    """Decorator: `fn` builds the module for every spec class given."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        for spec_type in spec_types:
            if spec_type in _BUILDERS:
                raise ArchspaceError(f"{spec_type.__name__} is registered twice")
            _BUILDERS[spec_type] = fn
        return fn

    return wrap


def build_op(spec: Any, *args: Any) -> nn.Module:
    """Build the module for `spec`."""
    try:
        fn = _BUILDERS[type(spec)]
    except KeyError:
        raise ArchspaceError(f"no op is registered for {type(spec).__name__} (kind {getattr(spec, 'kind', '?')!r})") from None
    return fn(spec, *args)


def registered() -> dict[type, Callable[..., nn.Module]]:
    """A copy of the registry (spec class -> builder)."""
    return dict(_BUILDERS)
