"""Genotype -> nn.Module, with timm's model API (forward_features, forward_head, feature_info, ...)."""
from __future__ import annotations

import torch
from torch import nn

import archspace.blocks  # noqa: F401  (registers the block styles)
import archspace.ops  # noqa: F401  (registers the ops)
from archspace.genotype.base import Shape
from archspace.genotype.plan import StagePlan, plan
from archspace.genotype.schema import Genotype, Stage
from archspace.ops.layers import norm_layer
from archspace.ops.registry import build_op


def tie_stage_shared(blocks: nn.Sequential) -> None:
    """Parameters a module names in its `stage_shared` are taken from the same module of the stage's first block.

    An op whose closed form counts such a parameter only at block index 0 (e.g. TransXNet's per-stage
    position bias) declares it this way; every other op is left untouched.
    """
    first = dict(blocks[0].named_modules())
    for block in list(blocks)[1:]:
        for name, module in block.named_modules():
            for attr in getattr(module, "stage_shared", ()):
                setattr(module, attr, getattr(first[name], attr))


class NetworkStage(nn.Module):
    """A stage: downsample layer, blocks, optional output norm."""

    def __init__(self, stage: Stage, stage_plan: StagePlan):
        super().__init__()
        self.downsample = build_op(stage.downsample, stage_plan.input, stage_plan.downsampled)
        self.blocks = nn.Sequential(*(build_op(stage.block, stage, b) for b in stage_plan.blocks))
        tie_stage_shared(self.blocks)
        self.norm = norm_layer(stage.out_norm)(stage_plan.output.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.blocks(self.downsample(x)))


class ArchNet(nn.Module):
    """A network compiled from a Genotype; follows timm's model API."""

    def __init__(self, genotype: Genotype, num_classes: int | None = None, in_chans: int | None = None, drop_path_rate: float | None = None):
        super().__init__()
        updates = {k: v for k, v in (("num_classes", num_classes), ("in_chans", in_chans), ("drop_path_rate", drop_path_rate)) if v is not None}
        if updates:
            genotype = type(genotype).model_validate({**genotype.model_dump(), **updates})
        self.genotype = genotype
        self.plan = plan(genotype)
        self.num_classes = genotype.num_classes
        self.stem = build_op(genotype.stem, genotype.in_chans)
        self.stages = nn.Sequential(*(NetworkStage(s, p) for s, p in zip(genotype.stages, self.plan.stages)))
        final: Shape = self.plan.stages[-1].output
        self.head = build_op(genotype.head, final.channels, genotype.num_classes)
        self.num_features = final.channels
        self.head_hidden_size = self.head.num_features
        self.feature_info = [
            dict(num_chs=p.output.channels, reduction=self.plan.reduction(i), module=f"stages.{i}")
            for i, p in enumerate(self.plan.stages)
        ]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """Stage outputs (timm API): `indices` an int takes the last n stages, a list picks stages."""
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt: only 'NCHW' is supported, got {output_fmt!r}")
        n = len(self.stages)
        if indices is None:
            take = list(range(n))
        elif isinstance(indices, int):
            take = list(range(n - indices, n))
        else:
            take = [i % n for i in indices]
        intermediates = []
        x = self.stem(x)
        last = max(take) if stop_early else n - 1
        for i, stage in enumerate(self.stages[: last + 1]):
            x = stage(x)
            if i in take:
                intermediates.append(x)
        if intermediates_only:
            return intermediates
        return x, intermediates

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool not in (None, "avg"):
            raise ValueError(f"global_pool: only 'avg' is supported, got {global_pool!r}")
        self.num_classes = num_classes
        self.head.reset(num_classes)


def build(genotype: Genotype, **kwargs) -> ArchNet:
    """Compile a genotype into a network (kwargs: num_classes, in_chans, drop_path_rate)."""
    return ArchNet(genotype, **kwargs)
