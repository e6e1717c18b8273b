"""Genotype -> nn.Module, with timm's model API (forward_features, forward_head, feature_info, ...)."""
from __future__ import annotations

import torch
from timm.models import checkpoint_seq
from torch import nn
from torch.nn import functional as F

import archspace.blocks  # noqa: F401  (registers the block styles)
import archspace.ops  # noqa: F401  (registers the ops)
from archspace.errors import ArchspaceError, GenotypeError
from archspace.genotype.base import Shape
from archspace.genotype.plan import StagePlan, plan
from archspace.genotype.schema import Genotype, Stage
from archspace.ops.layers import MapSized, norm_layer
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
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting():
            x = checkpoint_seq(self.blocks, x)  # recompute each block's activations in backward (timm)
        else:
            x = self.blocks(x)
        return self.norm(x)


Size = int | tuple[int, int]


def _pair(size: Size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


class ArchNet(nn.Module):
    """A network compiled from a Genotype; follows timm's model API.

    img_size: build for another input size (int or (H, W)); the genotype is checked again there and a
    grid, window or patch that does not fit is refused with its field. dynamic_img_size: every op
    follows any input size at run time (cells zero-padded, position tables resized), an img_size its
    cells do not tile included (planned at the genotype's size); otherwise an op tied to the map size
    refuses a size it cannot take, naming itself and the sizes it accepts.
    """

    def __init__(
        self,
        genotype: Genotype,
        num_classes: int | None = None,
        in_chans: int | None = None,
        drop_path_rate: float | None = None,
        img_size: Size | None = None,
        dynamic_img_size: bool = False,
    ):
        super().__init__()
        updates = {k: v for k, v in (("num_classes", num_classes), ("in_chans", in_chans), ("drop_path_rate", drop_path_rate)) if v is not None}
        if updates:
            genotype = type(genotype).model_validate({**genotype.model_dump(), **updates})
        self.genotype = genotype
        self.img_size = _pair(img_size if img_size is not None else genotype.image_size)
        self.dynamic_img_size = dynamic_img_size
        self.plan = _plan_for(genotype, self.img_size, dynamic_img_size)
        self.num_classes = genotype.num_classes
        self.stem = build_op(genotype.stem, genotype.in_chans)
        self.stages = nn.Sequential(*(NetworkStage(s, p) for s, p in zip(genotype.stages, self.plan.stages)))
        final: Shape = self.plan.stages[-1].output
        self.head = build_op(genotype.head, final, genotype.num_classes)
        self.num_features = final.channels
        self.head_hidden_size = self.head.num_features
        self.feature_info = [
            dict(num_chs=p.output.channels, reduction=self.plan.reduction(i), module=f"stages.{i}")
            for i, p in enumerate(self.plan.stages)
        ]
        self._mark_sized_ops()

    def _mark_sized_ops(self) -> None:
        for name, module in self.named_modules():
            if isinstance(module, MapSized):
                module.op_name, module.dynamic = name, self.dynamic_img_size

    @property
    def fixed_input_size(self) -> bool:
        """True when some op takes only some input sizes (windows, grids, patches, position tables) and the net is not dynamic."""
        return not self.dynamic_img_size and any(isinstance(m, MapSized) and m.constrains_size() for m in self.modules())

    def set_input_size(self, img_size: Size | None = None, **unsupported) -> None:
        """Rebuild the stages for another input size (timm API), keeping the weights; position tables are resampled."""
        if unsupported:
            raise ArchspaceError(f"set_input_size: only img_size is supported, got {', '.join(unsupported)}")
        if img_size is None:
            return
        new = ArchNet(self.genotype, img_size=img_size, dynamic_img_size=self.dynamic_img_size)
        reference = next(self.parameters())
        new.stages.to(device=reference.device, dtype=reference.dtype)
        state = {k: resample_to(v, new.stages.state_dict()[k], k) for k, v in self.stages.state_dict().items()}
        new.stages.load_state_dict(state)
        new.stages.train(self.training)
        for old_stage, stage in zip(self.stages, new.stages):
            stage.grad_checkpointing = old_stage.grad_checkpointing
        if isinstance(self.head, MapSized):  # an embedding whose kernel spans the final map: resampled to the new map
            self.head = self._head_at(new.plan.stages[-1].output)
        self.stages, self.plan, self.img_size = new.stages, new.plan, new.img_size
        self._mark_sized_ops()

    def _head_at(self, final: Shape) -> nn.Module:
        """This network's head rebuilt for a final map of shape `final`, its weights resampled and its classifier kept."""
        head = build_op(self.genotype.head, final, 0)
        head.fc = self.head.fc
        reference = next(self.head.parameters())
        head.to(device=reference.device, dtype=reference.dtype)
        old = self.head.state_dict()
        head.load_state_dict({k: resample_to(old[k], v, k) for k, v in head.state_dict().items()})
        head.train(self.head.training)
        return head

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute block activations in the backward pass (timm API): less training memory, more compute."""
        for stage in self.stages:
            stage.grad_checkpointing = enable

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        """Parameter groups for layer-wise learning-rate decay (timm API): stem, then stages (or blocks)."""
        return dict(stem=r"^stem", blocks=r"^stages\.(\d+)" if coarse else [(r"^stages\.(\d+)\.blocks\.(\d+)", None), (r"^stages\.(\d+)", (0,))])

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


def plan_at(genotype: Genotype, size: tuple[int, int]):
    """The genotype's plan at an input size; a gene that does not fit there is refused with its field and the size."""
    try:
        return plan(genotype, size)
    except GenotypeError as err:
        if size == (genotype.image_size, genotype.image_size):
            raise
        raise GenotypeError(err.path, f"{err.reason} (at input size {size[0]}x{size[1]})") from None


def _plan_for(genotype: Genotype, size: tuple[int, int], dynamic: bool):
    """The plan at `size`; a dynamic network whose cells (windows, blocks, grids) do not tile `size` is planned at the
    genotype's own size and serves `size` by padding each cell at run time, as it serves any other size."""
    try:
        return plan_at(genotype, size)
    except GenotypeError:
        own = (genotype.image_size, genotype.image_size)
        if not dynamic or size == own:
            raise
        return plan_at(genotype, own)


def resample_to(old: torch.Tensor, new: torch.Tensor, name: str) -> torch.Tensor:
    """A weight carried to a network of another input size: unchanged, or resized when its shape is tied to the map.

    Absolute position embeddings (1, C, H, W) and TransXNet position biases (1, heads, N, N_kv) are resized
    bicubically (as the official TransXNet code does at run time); relative tables of a window that the
    smaller map now clamps are resized linearly.
    """
    if old.shape == new.shape:
        return old
    if old.dim() == 4:
        return F.interpolate(old, size=new.shape[-2:], mode="bicubic", align_corners=False)
    if old.dim() == 2 and name.endswith("rel_pos"):  # Swin: ((2Wh-1)(2Ww-1), heads), square windows
        side, new_side = round(old.shape[0] ** 0.5), round(new.shape[0] ** 0.5)
        table = old.t().reshape(1, -1, side, side)
        return F.interpolate(table, size=(new_side, new_side), mode="bicubic", align_corners=False).reshape(-1, new.shape[0]).t()
    if old.dim() == 2:
        return F.interpolate(old.t()[None], size=new.shape[0], mode="linear", align_corners=False)[0].t()
    raise ArchspaceError(f"set_input_size: cannot carry {name} from shape {tuple(old.shape)} to {tuple(new.shape)}")


def build(genotype: Genotype, **kwargs) -> ArchNet:
    """Compile a genotype into a network (kwargs: num_classes, in_chans, drop_path_rate, img_size, dynamic_img_size)."""
    return ArchNet(genotype, **kwargs)
