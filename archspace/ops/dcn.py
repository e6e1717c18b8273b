"""Deformable convolution v3 in plain PyTorch (bilinear sampling with F.grid_sample, no compiled extension)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from archspace.genotype.base import Site
from archspace.genotype.specs.dcn import DCNv3Mixer
from archspace.ops.layers import act_layer, norm_layer
from archspace.ops.registry import register


def kernel_points(kernel: int) -> torch.Tensor:
    """The regular KxK grid of sampling points around a pixel, as (P, 2) (x, y) offsets, row-major."""
    r = torch.arange(kernel, dtype=torch.float32) - kernel // 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    return torch.stack((x.flatten(), y.flatten()), dim=-1)


def dcnv3_sample(value: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """The deformable sampling of DCNv3 (InternImage §3.1; STM Eq. 1): y_g(p) = sum_k m_gk x_g(p + p_k + dp_gk).

    value:  (B, H, W, C) channels-last map, C = G groups x C/G channels.
    offset: (B, H, W, G, P, 2) learned (x, y) shifts in pixels.
    mask:   (B, H, W, G, P) modulation weights.
    points: (P, 2) the regular grid p_k in pixels.
    Returns (B, H, W, C). Samples outside the map read zeros (the official zero padding).
    fvcore counts the F.grid_sample at 4 per sampled element (bilinear), and the weighted sum, a matmul,
    at 1 multiply-add per sampled element: 5 x C x H x W x P in all.
    """
    b, h, w, c = value.shape
    g, p = mask.shape[-2:]
    v = value.reshape(b, h, w, g, c // g).permute(0, 3, 4, 1, 2).reshape(b * g, c // g, h, w)
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=value.dtype, device=value.device), torch.arange(w, dtype=value.dtype, device=value.device), indexing="ij"
    )
    base = torch.stack((xs, ys), dim=-1)[None, :, :, None, None, :]  # 1, H, W, 1, 1, 2
    loc = base + points.to(value)[None, None, None, None] + offset  # B, H, W, G, P, 2 in pixels
    size = torch.tensor([w, h], dtype=value.dtype, device=value.device)
    grid = (loc + 0.5) / size * 2 - 1  # pixel centres -> [-1, 1] (align_corners=False)
    grid = grid.permute(0, 3, 1, 2, 4, 5).reshape(b * g, h, w * p, 2)
    sampled = F.grid_sample(v, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # B*G, C/G, H, W*P
    sampled = sampled.reshape(b, g, c // g, h, w, p).permute(0, 3, 4, 1, 2, 5)  # B, H, W, G, C/G, P
    return (sampled @ mask.unsqueeze(-1)).reshape(b, h, w, c)


class DeformableSampling(nn.Module):
    """Parameter-free wrapper of `dcnv3_sample`, so its cost shows up as one module in a count."""

    count_exclusion = "deform_sampling"  # what U-InternImage's reported FLOPs leave out (archspace.fidelity)

    def __init__(self, kernel: int, offset_scale: float = 1.0):
        super().__init__()
        self.offset_scale = offset_scale
        self.register_buffer("points", kernel_points(kernel) * offset_scale, persistent=False)

    def forward(self, value: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """InternImage scales the grid and the learned offsets alike: p + (p_k + dp_k) * offset_scale."""
        return dcnv3_sample(value, offset * self.offset_scale, mask, self.points)


class DCNv3(nn.Module):
    """DCNv3 (InternImage, Wang et al. 2023, §3.1; STM-evaluation §3.2.2, Eq. 1): offsets and softmax
    modulation from a depthwise conv + linear branch, grouped deformable sampling, input/output projections."""

    def __init__(
        self,
        channels: int,
        groups: int = 1,
        kernel: int = 3,
        dw_kernel: int = 3,
        offset_scale: float = 1.0,
        norm: str = "layernorm",
        act: str = "gelu",
        norm_eps: float | None = None,
    ):
        super().__init__()
        self.groups, self.points = groups, kernel * kernel
        self.input_proj = nn.Linear(channels, channels)
        self.dw_conv = nn.Conv2d(channels, channels, dw_kernel, 1, dw_kernel // 2, groups=channels)
        self.dw_norm = norm_layer(norm, norm_eps)(channels)
        self.dw_act = act_layer(act)()
        self.offset = nn.Linear(channels, groups * self.points * 2)
        self.mask = nn.Linear(channels, groups * self.points)
        self.sample = DeformableSampling(kernel, offset_scale)
        self.output_proj = nn.Linear(channels, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """InternImage's init: zero offsets and uniform modulation, so training starts from a 3x3 average."""
        for layer in (self.offset, self.mask):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        for layer in (self.input_proj, self.output_proj):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        value = self.input_proj(x.permute(0, 2, 3, 1))
        query = self.dw_act(self.dw_norm(self.dw_conv(x))).permute(0, 2, 3, 1)
        offset = self.offset(query).reshape(b, h, w, self.groups, self.points, 2)
        mask = self.mask(query).reshape(b, h, w, self.groups, self.points).softmax(dim=-1)
        return self.output_proj(self.sample(value, offset, mask)).permute(0, 3, 1, 2)


@register(DCNv3Mixer)
def build_dcnv3(spec: DCNv3Mixer, site: Site) -> nn.Module:
    return DCNv3(site.channels, spec.groups, spec.kernel, spec.dw_kernel, spec.offset_scale, site.norm, site.act, spec.norm_eps)
