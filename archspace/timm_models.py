"""Registers every zoo genotype with timm as `archspace_<name>` (features_only gives the stage pyramid)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from timm.models import build_model_with_cfg, register_model

from archspace.errors import ArchspaceError
from archspace.zoo import zoo_genotype, zoo_names

if TYPE_CHECKING:
    from archspace.builder import ArchNet

PREFIX = "archspace_"


def _create(name: str, pretrained: bool = False, **kwargs) -> "ArchNet":
    from archspace.builder import ArchNet

    if pretrained:
        raise ArchspaceError(f"{PREFIX}{name}: archspace ships no pretrained weights")
    genotype = zoo_genotype(name)
    kwargs.pop("pretrained_cfg", None)  # timm passes its own; ours describes the genotype's input
    kwargs.pop("pretrained_cfg_overlay", None)
    n_stages = len(genotype.stages)
    return build_model_with_cfg(
        ArchNet,
        PREFIX + name,
        pretrained=False,
        pretrained_cfg=dict(num_classes=genotype.num_classes, input_size=(genotype.in_chans, genotype.image_size, genotype.image_size)),
        feature_cfg=dict(flatten_sequential=True, out_indices=tuple(range(n_stages))),
        genotype=genotype,
        **kwargs,
    )


def _entrypoint(name: str) -> Callable[..., "ArchNet"]:
    def create(pretrained: bool = False, **kwargs) -> "ArchNet":
        return _create(name, pretrained, **kwargs)

    create.__name__ = create.__qualname__ = PREFIX + name
    create.__doc__ = f"archspace zoo genotype {name!r} (genotypes/{name}.json)."
    create.__module__ = __name__
    return create


def register_zoo() -> list[str]:
    """Register every zoo genotype not yet registered; returns the timm names."""
    import timm

    names = []
    for name in zoo_names():
        if not timm.is_model(PREFIX + name):
            register_model(_entrypoint(name))
        names.append(PREFIX + name)
    return names
