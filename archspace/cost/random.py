"""Random valid genotypes over every registered kind, at small sizes (tests and cost benchmarks).

Genes are sampled generically from each spec's pydantic fields: a gene keeps its default half of the
time, otherwise a number moves to a neighbour of its default, a Literal or bool picks any value, an
optional gene may be switched on or off, and a nested spec is sampled the same way. A stage whose
genes the plan refuses is drawn again, so every genotype returned is valid. Nothing here imports torch.
"""
from __future__ import annotations

import copy
import random
import types
import typing
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from archspace.errors import GenotypeError
from archspace.genotype import specs
from archspace.genotype.base import Shape
from archspace.genotype.io import genotype_from_dict
from archspace.genotype.plan import plan

WIDTHS = (16, 24, 32, 48, 64)
IMAGE_SIZES = (56, 64)
_NO_DEFAULT = object()


def _around(default: Any, rng: random.Random) -> Any:
    """The default, or a neighbour of it."""
    if isinstance(default, bool) or rng.random() < 0.5:
        return default
    if isinstance(default, int):
        return rng.choice([max(1, default // 2), default + 2 if default % 2 else default * 2, default])
    if isinstance(default, float):
        return rng.choice([default / 2, default * 1.5, default])
    return default


def _sample_value(annotation: Any, default: Any, name: str, rng: random.Random) -> Any:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _sample_value(args[0], default, name, rng)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if type(None) in args and rng.random() < (0.6 if default is None else 0.2):
            return None
        if not all(isinstance(o, type) and issubclass(o, BaseModel) for o in options):
            options = options[:1]
        return _sample_value(rng.choice(options), default, name, rng)
    if origin is Literal:
        return default if default is not _NO_DEFAULT and rng.random() < 0.5 else rng.choice(args)
    if origin is tuple:
        if default is not _NO_DEFAULT and default is not None:
            inner = args[0] if args else Any
            return tuple(_sample_value(inner, d, name, rng) if not isinstance(d, dict) else d for d in default)
        if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return tuple(sample_spec(args[0], rng) for _ in range(rng.choice((1, 2))))
        values = [rng.choice((2, 4, 8)) for _ in range(rng.choice((1, 2, 3)))]
        if args and type(None) in typing.get_args(args[0]) and rng.random() < 0.5:
            values[-1] = None  # an optional last entry (e.g. a global last level)
        return tuple(values)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sample_spec(annotation, rng)
    if annotation is bool:
        return rng.random() < 0.5
    if default is None or default is _NO_DEFAULT:
        if annotation is int:
            return rng.choice(WIDTHS) if "channels" in name else rng.choice((1, 2, 3, 4))
        if annotation is float:
            return rng.choice((0.5, 1.0, 2.0))
        return None if default is None else default
    if "channels" in name and isinstance(default, int):
        return rng.choice(WIDTHS)
    return _around(default, rng)


def sample_spec(spec_type: type[BaseModel], rng: random.Random) -> dict[str, Any]:
    """Genes for one spec class, as a dict the schema validates (it may still refuse them at a site)."""
    out: dict[str, Any] = {}
    for name, field in spec_type.model_fields.items():
        if name == "kind":
            out[name] = field.default
            continue
        if field.is_required():
            default = _NO_DEFAULT
        elif field.default_factory is not None:
            default = field.default_factory()
            default = default.model_dump(mode="json") if isinstance(default, BaseModel) else default
        else:
            default = field.default
        value = _sample_value(field.annotation, default, name, rng)
        if value is not _NO_DEFAULT:
            out[name] = value
    return out


def _stage(rng: random.Random, index: int, channels: int, mixer: type | None) -> dict[str, Any]:
    downsample = specs.downsample.NoDownsample if index == 0 and rng.random() < 0.7 else rng.choice(specs.DOWNSAMPLES)
    stage: dict[str, Any] = {
        "depth": rng.choice((1, 2)),
        "channels": channels,
        "downsample": sample_spec(downsample, rng),
        "block": sample_spec(rng.choice(specs.BLOCKS), rng),
        "mixer": sample_spec(mixer or rng.choice(specs.MIXERS), rng),
        "norm": rng.choice(("batchnorm", "layernorm", "groupnorm")),
        "act": rng.choice(("relu", "gelu", "silu")),
        "out_norm": rng.choice(("none", "none", "layernorm", "batchnorm")),
    }
    if rng.random() < 0.7:
        stage["ffn"] = sample_spec(rng.choice(specs.FFNS), rng)
    return stage


def _valid(data: dict[str, Any]) -> bool:
    try:
        genotype_from_dict(data)
    except (GenotypeError, ValidationError, ValueError):
        return False
    return True


def random_genotype(rng: random.Random, name: str = "random", mixer: type | None = None, attempts: int = 400):
    """One valid random genotype; `mixer` (a spec class) is placed in one of its stages when it fits."""
    for _ in range(attempts):
        data: dict[str, Any] = {
            "name": name,
            "image_size": rng.choice(IMAGE_SIZES),
            "num_classes": 10,
            "stem": sample_spec(rng.choice(specs.STEMS), rng),
            "head": sample_spec(rng.choice(specs.HEADS), rng),
            "stages": [],
        }
        n_stages = rng.choice((1, 2, 3, 4))
        forced = rng.randrange(min(n_stages, 2)) if mixer is not None else -1  # early stages have the larger maps
        channels = rng.choice(WIDTHS[:3])
        for i in range(n_stages):
            for _ in range(attempts // 8):
                stage = _stage(rng, i, channels, mixer if i == forced else None)
                if _valid({**data, "stages": [*data["stages"], stage]}):
                    data["stages"].append(stage)
                    break
            else:
                break
            channels = min(channels * 2, 128) if rng.random() < 0.7 else channels
        if len(data["stages"]) == n_stages:
            return genotype_from_dict(data)
        mixer = None if rng.random() < 0.02 else mixer  # give up forcing a kind that will not fit
    raise GenotypeError("", f"no valid random genotype in {attempts} attempts")


def random_genotypes(n: int, seed: int = 0) -> list:
    """`n` valid random genotypes; genotype i tries to use mixer kind i (mod the number of kinds)."""
    rng = random.Random(seed)
    return [random_genotype(rng, f"random_{seed}_{i}", specs.MIXERS[i % len(specs.MIXERS)]) for i in range(n)]


# A small discrete space for latency tables: a fixed skeleton (stem, widths, resolutions) whose stages
# each pick a depth, a downsample layer and one of a few (block, mixer, FFN) presets. Networks drawn
# from it share their units, as candidates of a search space do, so a per-unit table covers them.
SKELETON_WIDTHS = (32, 64, 128, 256)
_PLAIN_STAGE = {"block": {"kind": "convnext"}, "mixer": {"kind": "dwconv"}, "ffn": {"kind": "mlp"}}
_DOWNSAMPLES = ({"kind": "conv", "kernel": 3, "stride": 2, "norm": "batchnorm"}, {"kind": "patch_merge"}, {"kind": "conv", "kernel": 2, "stride": 2, "padding": 0, "norm": "layernorm", "norm_position": "pre"})


def _skeleton(image_size: int, stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "preset", "image_size": image_size, "num_classes": 10, "stem": {"kind": "patchify", "channels": SKELETON_WIDTHS[0], "patch": 4}, "stages": stages}


def _skeleton_stage(i: int, depth: int = 1, downsample: dict[str, Any] | None = None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    ds = {"kind": "none"} if i == 0 else (downsample or _DOWNSAMPLES[0])
    return {"depth": depth, "channels": SKELETON_WIDTHS[i], "downsample": ds, **(body or _PLAIN_STAGE)}


def _keeps_skeleton(data: dict[str, Any], image_size: int) -> bool:
    """Valid, and the last stage ends at its skeleton width and resolution."""
    try:
        g = genotype_from_dict(data)
    except (GenotypeError, ValidationError, ValueError):
        return False
    i = len(g.stages) - 1
    side = image_size // 4 // 2**i
    return plan(g).stages[-1].output == Shape(SKELETON_WIDTHS[i], side, side)


@lru_cache(maxsize=8)
def preset_space(image_size: int = 64, seed: int = 0, attempts: int = 40) -> list[list[dict[str, Any]]]:
    """For each skeleton stage, the presets (block, mixer, ffn, norm, act): one per mixer kind valid there."""
    rng = random.Random(seed)
    space = []
    for i in range(len(SKELETON_WIDTHS)):
        presets = [dict(_PLAIN_STAGE)]
        for mixer in specs.MIXERS:
            for _ in range(attempts):
                body = {
                    "block": sample_spec(rng.choice(specs.BLOCKS), rng),
                    "mixer": sample_spec(mixer, rng),
                    "norm": rng.choice(("batchnorm", "layernorm")),
                    "act": rng.choice(("relu", "gelu")),
                }
                if rng.random() < 0.8:
                    body["ffn"] = sample_spec(rng.choice(specs.FFNS), rng)
                stages = [_skeleton_stage(j, 2, body=body if j == i else None) for j in range(i + 1)]
                if _keeps_skeleton(_skeleton(image_size, stages), image_size):
                    presets.append(body)
                    break
        space.append(presets)
    return space


def preset_genotypes(n: int, seed: int, image_size: int = 64, space_seed: int = 0) -> list:
    """`n` genotypes of the preset space: per stage a depth 1-3, a downsample layer and a preset."""
    space = copy.deepcopy(preset_space(image_size, space_seed))
    rng = random.Random(seed)
    out = []
    for k in range(n):
        stages = [
            _skeleton_stage(i, rng.choice((1, 2, 3)), rng.choice(_DOWNSAMPLES), rng.choice(presets))
            for i, presets in enumerate(space)
        ]
        out.append(genotype_from_dict({**_skeleton(image_size, stages), "name": f"preset_{seed}_{k}"}))
    return out
