"""Registers every zoo genotype with timm as `archspace_<name>` (features_only gives the stage pyramid)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from timm.models import build_model_with_cfg, register_model

from archspace.errors import ArchspaceError
from archspace.zoo import zoo_genotype, zoo_names

if TYPE_CHECKING:
    from archspace.builder import ArchNet

PREFIX = "archspace_"


def checkpoint_filter_fn(state_dict: dict, model: "ArchNet") -> dict:
    """timm's pretrained filter: a state_dict of ours passes through; an official checkpoint is converted with the
    genotype's `reference.official.converter` (one-line ArchspaceError when a key or shape does not fit)."""
    from archspace.weights import convert_state_dict, family_for
    from archspace.weights.convert import covered_keys

    if set(covered_keys(model)) <= set(state_dict):
        return state_dict
    ref = model.genotype.reference
    official = ref.official if ref else None
    if official is None or official.converter is None:
        raise ArchspaceError(f"{model.genotype.name}: the checkpoint is not ours and the genotype names no official converter")
    zoo_classes = zoo_genotype(model.genotype.name).num_classes
    new_classifier = "head.fc." if model.num_classes != zoo_classes else None
    return convert_state_dict(family_for(official.converter), state_dict, model, new_classifier)


def _create(name: str, pretrained: bool = False, **kwargs) -> "ArchNet":
    """timm's builder around ArchNet; img_size / dynamic_img_size rebuild for another input size."""
    from archspace.builder import ArchNet, _pair
    from archspace.ops.layers import MapSized

    genotype = zoo_genotype(name)
    kwargs.pop("pretrained_cfg", None)  # timm passes its own; ours describes the genotype's input
    overlay = kwargs.pop("pretrained_cfg_overlay", None) or {}
    if pretrained and not overlay.get("file"):
        raise ArchspaceError(
            f"{PREFIX}{name}: archspace ships no pretrained weights; pass pretrained_cfg_overlay=dict(file=CHECKPOINT) "
            "(ours, or the official code's: it is converted)"
        )
    h, w = _pair(kwargs.get("img_size") or genotype.image_size)
    n_stages = len(genotype.stages)
    model = build_model_with_cfg(
        ArchNet,
        PREFIX + name,
        pretrained=pretrained,
        pretrained_cfg=dict(
            num_classes=genotype.num_classes,
            input_size=(genotype.in_chans, h, w),
            classifier="head.fc",
            first_conv=None,
            **overlay,
        ),
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(flatten_sequential=True, out_indices=tuple(range(n_stages))),
        genotype=genotype,
        **kwargs,
    )
    # the same dict serves the network and a features_only wrapper of its modules
    model.pretrained_cfg["fixed_input_size"] = not kwargs.get("dynamic_img_size", False) and any(
        isinstance(m, MapSized) and m.constrains_size() for m in model.modules()
    )
    return model


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
