"""The genotype: a frozen, validated description of a whole network."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, ValidationInfo, model_validator

from archspace.genotype import limits, specs
from archspace.genotype.base import Act, Norm, Spec
from archspace.genotype.plan import plan

SCHEMA_VERSION = 1


def _union(kinds: tuple[type, ...]):
    """A union discriminated on `kind` (a single kind needs no discriminator)."""
    if len(kinds) == 1:
        return kinds[0]
    return Annotated[Union[kinds], Field(discriminator="kind")]  # noqa: UP007


Mixer = _union(specs.MIXERS)
FFN = _union(specs.FFNS)
Downsample = _union(specs.DOWNSAMPLES)
Stem = _union(specs.STEMS)
Block = _union(specs.BLOCKS)
Head = _union(specs.HEADS)


class Stage(Spec):
    """One stage: an optional downsample layer, then `depth` blocks of one style at one width."""

    depth: int = Field(ge=1, le=limits.MAX_DEPTH)
    channels: int = Field(ge=1, le=limits.MAX_CHANNELS)
    downsample: Downsample = Field(specs.downsample.NoDownsample(), description="the layer in front of the stage")
    block: Block = Field(specs.blocks.MetaFormerBlock(), description="how the mixer and the FFN are wired into residual blocks")
    mixer: Mixer
    ffn: FFN | None = None
    norm: Norm = "layernorm"
    act: Act = "gelu"
    drop_path: float | None = Field(None, ge=0, lt=1, description="overrides the network's linear drop-path schedule")
    out_norm: Norm = Field("none", description="norm applied to the stage output")


CountExclusion = Literal["attention_matmul", "deform_sampling", "norm", "pool", "pos_embed_params"]


class OfficialCode(Spec):
    """The official implementation this genotype equals tensor for tensor, or why there is none."""

    repo: str | None = Field(None, description="owner/name of the official repository; None: no official code exists")
    constructor: str | None = Field(None, description="what builds the model there (function or timm name)")
    converter: str | None = Field(None, description="`archspace convert-weights --from` family that loads its checkpoints")
    note: str | None = Field(None, description="why no official code, and the closest official relative")


class Reference(Spec):
    """What the paper reports for a published model, kept beside our computed numbers.

    `excludes` lists what the paper's own count leaves out (e.g. attention matrix products),
    so that the zoo can compare like with like.
    """

    paper: str
    family: str | None = Field(None, description="model family shown by `archspace zoo`, e.g. 'TransCNN'")
    table: str | None = None
    params_m: float | None = None
    flops_g: float | None = None
    top1: float | None = Field(None, description="ImageNet-1k top-1 accuracy (%) the paper reports")
    megaface_rank1: float | None = Field(
        None, description="MegaFace rank-1 face identification accuracy (%) with 1M distractors the paper reports (face models; not ImageNet top-1)"
    )
    source: str | None = None
    excludes: tuple[CountExclusion, ...] = ()
    official: OfficialCode | None = None


class Genotype(Spec):
    """A whole network: input, stem, stages, head; plus provenance for published models."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(min_length=1)
    image_size: int = Field(224, ge=8, le=limits.MAX_IMAGE_SIZE)
    in_chans: int = Field(3, ge=1, le=limits.MAX_IN_CHANS)
    num_classes: int = Field(1000, ge=0, le=limits.MAX_CLASSES)
    drop_path_rate: float = Field(0.0, ge=0, lt=1)
    stem: Stem
    stages: tuple[Stage, ...] = Field(min_length=1, max_length=limits.MAX_STAGES)
    head: Head = Field(specs.heads.LinearHead())
    reference: Reference | None = None
    notes: str = ""

    @model_validator(mode="after")
    def _semantics(self, info: ValidationInfo) -> "Genotype":
        limits.check_blocks(self)
        if not (info.context or {}).get("structure_only"):  # `archspace plan` walks an invalid genotype itself
            plan(self)
            limits.check_totals(self)
        return self

    @property
    def id(self) -> str:
        from archspace.genotype.io import genotype_id

        return genotype_id(self)
