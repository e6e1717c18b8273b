"""Block styles: how a stage's mixer and FFN are wired into residual blocks."""
from __future__ import annotations

import torch
from timm.layers import DropPath, LayerScale2d
from torch import nn
from torch.nn import functional as F

from archspace.genotype.plan import BlockPlan
from archspace.genotype.schema import Stage
from archspace.genotype.specs.blocks import BottleneckBlock, ConvNeXtBlock, InvertedResidualBlock, MetaFormerBlock, ResidualBlock
from archspace.ops.layers import SE, ConvNormAct, MapSized, act_layer, make_act, norm_layer
from archspace.ops.registry import build_op, register


class LayerScaleBias2d(nn.Module):
    """Layer scale with a bias (CaiT Eq. 1 plus beta, as TransXNet's official per-channel 1x1 grouped conv): gamma * x + beta."""

    def __init__(self, channels: int, init: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,), init))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


def _layer_scale(channels: int, init: float | None, bias: bool = False) -> nn.Module:
    if init is None:
        return nn.Identity()
    return LayerScaleBias2d(channels, init) if bias else LayerScale2d(channels, init)


def _drop_path(rate: float) -> nn.Module:
    return DropPath(rate) if rate > 0 else nn.Identity()


def _shortcut(block: BlockPlan, norm: str) -> nn.Module:
    """Identity, or a 1x1 (strided) conv + norm when the block changes width or resolution (ResNet option B)."""
    if block.input.channels == block.output.channels and block.stride == 1:
        return nn.Identity()
    return ConvNormAct(block.input.channels, block.output.channels, 1, block.stride, norm=norm, act="none")


class MetaFormer(MapSized, nn.Module):
    """MetaFormer block (Yu et al. Eq. 1-2): x + mixer(norm(x)); x + ffn(norm(x)); optional CPE and layer scale.

    An absolute position embedding takes only its built map size, or is resized bicubically when dynamic (timm).
    """

    def __init__(self, spec: MetaFormerBlock, stage: Stage, block: BlockPlan):
        super().__init__()
        c = block.input.channels
        self.cpe = nn.Conv2d(c, c, spec.cpe_kernel, 1, spec.cpe_kernel // 2, groups=c) if spec.cpe_kernel else None
        self.pos_embed = None
        if spec.pos_embed and block.index == 0:
            self.pos_embed = nn.Parameter(torch.zeros(1, c, block.input.height, block.input.width))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        eps = getattr(stage.mixer, "norm_eps", None)  # a mixer whose reference block sets its norms' eps (halo, dcnv3)
        self.norm1 = norm_layer(spec.mixer_norm or stage.norm, eps)(c)
        self.mixer = build_op(stage.mixer, block.mixer)
        self.ls1 = _layer_scale(c, spec.layer_scale, spec.layer_scale_bias)
        self.drop_path1 = _drop_path(block.drop_path)
        self.norm2 = norm_layer(spec.ffn_norm or stage.norm, eps)(c)
        self.ffn = build_op(stage.ffn, block.ffn)
        self.ls2 = _layer_scale(c, spec.layer_scale, spec.layer_scale_bias)
        self.drop_path2 = _drop_path(block.drop_path)

    def constrains_size(self) -> bool:
        return self.pos_embed is not None

    def position(self, h: int, w: int) -> torch.Tensor:
        """The (1, C, H, W) position embedding for an HxW map."""
        if self.pos_embed.shape[-2:] == (h, w):
            return self.pos_embed
        if not self.dynamic:
            self.refuse(h, w, f"only {self.pos_embed.shape[-2]}x{self.pos_embed.shape[-1]} (its absolute position embedding)")
        return F.interpolate(self.pos_embed, size=(h, w), mode="bicubic", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pos_embed is not None:
            x = x + self.position(*x.shape[-2:])
        if self.cpe is not None:
            x = x + self.cpe(x)
        x = x + self.drop_path1(self.ls1(self.mixer(self.norm1(x))))
        return x + self.drop_path2(self.ls2(self.ffn(self.norm2(x))))


class ConvNeXt(nn.Module):
    """ConvNeXt block (Liu et al. 2022, Fig. 4): x + gamma * ffn(norm(mixer(x)))."""

    def __init__(self, spec: ConvNeXtBlock, stage: Stage, block: BlockPlan):
        super().__init__()
        c = block.input.channels
        self.mixer = build_op(stage.mixer, block.mixer)
        self.norm = norm_layer(stage.norm, getattr(stage.mixer, "norm_eps", None))(c)
        self.ffn = build_op(stage.ffn, block.ffn)
        self.ls = _layer_scale(c, spec.layer_scale)
        self.drop_path = _drop_path(block.drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.ls(self.ffn(self.norm(self.mixer(x)))))


class Bottleneck(nn.Module):
    """ResNet bottleneck (He et al. Fig. 5 right): 1x1 reduce, mixer (3x3 conv by default), 1x1 expand, + shortcut."""

    def __init__(self, spec: BottleneckBlock, stage: Stage, block: BlockPlan):
        super().__init__()
        width = block.mixer.channels
        self.reduce = ConvNormAct(block.input.channels, width, 1, norm=stage.norm, act=stage.act)
        self.mixer = build_op(stage.mixer, block.mixer)
        self.norm2 = norm_layer(stage.norm)(width)
        self.act2 = act_layer(stage.act)()
        self.expand = ConvNormAct(width, block.output.channels, 1, norm=stage.norm, act="none")
        self.drop_path = _drop_path(block.drop_path)
        self.shortcut = _shortcut(block, stage.norm)
        self.act3 = act_layer(stage.act)()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(self.act2(self.norm2(self.mixer(self.reduce(x)))))
        return self.act3(self.drop_path(y) + self.shortcut(x))


class Residual(nn.Module):
    """Residual block around a width-changing mixer (SCSC paper Fig. 3 block): act(se(mixer(x)) + shortcut(x)); without
    `projection`, a block that strides or widens has no shortcut (MobileNetV2 §3.3): act(se(mixer(x)))."""

    def __init__(self, spec: ResidualBlock, stage: Stage, block: BlockPlan):
        super().__init__()
        self.mixer = build_op(stage.mixer, block.mixer)
        self.se = SE(block.output.channels, spec.se) if spec.se is not None else nn.Identity()
        self.drop_path = _drop_path(block.drop_path)
        same = block.input.channels == block.output.channels and block.stride == 1
        self.shortcut = _shortcut(block, stage.norm) if spec.projection or same else None
        self.act = act_layer(stage.act)() if spec.post_act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.se(self.mixer(x))
        return self.act(y if self.shortcut is None else self.drop_path(y) + self.shortcut(x))


class InvertedResidual(nn.Module):
    """Inverted residual with linear bottleneck (MobileNetV2 §3.3, Table 1): x + project(act(norm(mixer(act(norm(expand(x))))))), shortcut at stride 1 and equal width."""

    def __init__(self, spec: InvertedResidualBlock, stage: Stage, block: BlockPlan):
        super().__init__()
        hidden, act = block.mixer.channels, spec.act or stage.act
        self.expand = ConvNormAct(block.input.channels, hidden, 1, norm=stage.norm, act=act)
        self.mixer = build_op(stage.mixer, block.mixer)
        self.norm = norm_layer(stage.norm)(hidden)
        self.act = make_act(act, hidden)
        self.project = ConvNormAct(hidden, block.output.channels, 1, norm=stage.norm, act="none")
        self.residual = block.stride == 1 and block.input.channels == block.output.channels
        self.drop_path = _drop_path(block.drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.act(self.norm(self.mixer(self.expand(x)))))
        return x + self.drop_path(y) if self.residual else y


for _spec, _module in (
    (MetaFormerBlock, MetaFormer), (ConvNeXtBlock, ConvNeXt), (BottleneckBlock, Bottleneck), (ResidualBlock, Residual),
    (InvertedResidualBlock, InvertedResidual),
):
    register(_spec)(_module)
