"""Light stand-ins for what the official model files import from mmcv/mmdet/mmseg, so they build without OpenMMLab.

Written from mmcv's public API (ConvModule = conv -> norm -> act named conv/bn|gn/activate, bias 'auto' = no bias
when a norm follows; build_norm_layer returns (name, layer)); only what the classification models touch.
The official code itself is never copied: it is imported from the user's checkout.
"""
from __future__ import annotations

import sys
import types

from torch import nn

_NORMS = {"BN": ("bn", nn.BatchNorm2d), "BN2d": ("bn", nn.BatchNorm2d), "SyncBN": ("bn", nn.BatchNorm2d)}
_ACTS = {"GELU": nn.GELU, "ReLU": nn.ReLU, "SiLU": nn.SiLU, "Swish": nn.SiLU, "Sigmoid": nn.Sigmoid}


def build_norm_layer(cfg: dict, num_features: int, postfix: str | int = "") -> tuple[str, nn.Module]:
    cfg = dict(cfg)
    kind = cfg.pop("type")
    cfg.pop("requires_grad", None)
    if kind == "GN":
        return f"gn{postfix}", nn.GroupNorm(cfg.pop("num_groups"), num_features, **cfg)
    if kind in ("LN", "LN2d"):
        return f"ln{postfix}", nn.LayerNorm(num_features, **cfg)
    name, cls = _NORMS[kind]
    return f"{name}{postfix}", cls(num_features, **cfg)


def build_activation_layer(cfg: dict) -> nn.Module:
    cfg = dict(cfg)
    return _ACTS[cfg.pop("type")](**cfg)


class ConvModule(nn.Module):
    """mmcv.cnn.ConvModule in its default order (conv, norm, act)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias="auto", conv_cfg=None, norm_cfg=None, act_cfg=dict(type="ReLU"), inplace=True, **_):
        super().__init__()
        if bias == "auto":
            bias = norm_cfg is None
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias=bias)
        self.norm_name = None
        if norm_cfg is not None:
            self.norm_name, norm = build_norm_layer(norm_cfg, out_channels)
            self.add_module(self.norm_name, norm)
        self.activate = build_activation_layer(act_cfg) if act_cfg is not None else None

    def forward(self, x):
        x = self.conv(x)
        if self.norm_name is not None:
            x = getattr(self, self.norm_name)(x)
        return self.activate(x) if self.activate is not None else x


def _module(name: str, **attrs) -> types.ModuleType:
    mod = sys.modules.get(name) or types.ModuleType(name)
    for k, v in attrs.items():
        setattr(mod, k, v)
    sys.modules[name] = mod
    return mod


def _unavailable(*_, **__):
    raise RuntimeError("checkpoint loading through mmcv is not shimmed; the benchmark loads state_dicts itself")


def install() -> None:
    """Register the stand-in modules (only where the real mmcv is not installed)."""
    try:
        import mmcv.cnn  # noqa: F401
        return
    except ImportError:
        pass
    bricks = _module("mmcv.cnn.bricks", ConvModule=ConvModule, build_activation_layer=build_activation_layer, build_norm_layer=build_norm_layer)
    cnn = _module("mmcv.cnn", bricks=bricks, ConvModule=ConvModule, build_activation_layer=build_activation_layer, build_norm_layer=build_norm_layer)
    runner = _module("mmcv.runner", load_checkpoint=_unavailable, _load_checkpoint=_unavailable)
    checkpoint = _module("mmcv.runner.checkpoint", load_checkpoint=_unavailable)
    runner.checkpoint = checkpoint
    _module("mmcv", cnn=cnn, runner=runner)


def multi_scale_deformable_attention() -> types.ModuleType:
    """Stand-in for the CUDA extension `MultiScaleDeformableAttention` (Deformable DETR's op), on CPU.

    ms_deform_attn_forward(value, shapes, level_start, sampling_locations, attention_weights, im2col_step):
    bilinear samples (grid_sample, zero padding, align_corners False) of each level's value map at the
    sampling locations in [0, 1], weighted by the attention weights and summed over levels and points.
    """
    import torch
    from torch.nn import functional as F

    def ms_deform_attn_forward(value, shapes, level_start, locations, weights, im2col_step):
        b, _, heads, dim = value.shape
        _, queries, _, levels, points, _ = locations.shape
        grids = 2 * locations - 1
        sampled = []
        for lvl, (h, w) in enumerate(shapes.tolist()):
            start = int(level_start[lvl])
            v = value[:, start:start + h * w].flatten(2).transpose(1, 2).reshape(b * heads, dim, h, w)
            g = grids[:, :, :, lvl].transpose(1, 2).flatten(0, 1)  # (B*heads, Q, P, 2)
            sampled.append(F.grid_sample(v, g, mode="bilinear", padding_mode="zeros", align_corners=False))
        stacked = torch.stack(sampled, dim=-2).flatten(-2)  # (B*heads, dim, Q, L*P)
        w = weights.transpose(1, 2).reshape(b * heads, 1, queries, levels * points)
        out = (stacked * w).sum(-1).reshape(b, heads * dim, queries)
        return out.transpose(1, 2).contiguous()

    module = types.ModuleType("MultiScaleDeformableAttention")
    module.ms_deform_attn_forward = ms_deform_attn_forward
    return module
