"""Conv-family mixers, FFNs, stems, downsamples, blocks and heads: shapes, gradients, closed forms, properties."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from archspace import build
from archspace.cost import count_model
from archspace.cost.analytic import analytic_cost
from archspace.genotype import genotype_from_dict
from archspace.genotype.base import Shape
from archspace.genotype.specs.conv import ConvMixer, DWConvMixer
from archspace.genotype.specs.downsample import PatchMerge
from archspace.genotype.specs.ffn import IRBFFN, MLPFFN
from archspace.ops.registry import build_op
from oputils import assert_backward, assert_op_matches_closed_form, site


@pytest.mark.parametrize(
    "spec, at",
    [
        (ConvMixer(kernel=3), site(16, 9, out=32, stride=2)),
        (ConvMixer(kernel=5, groups=4, bias=True), site(16, 8)),
        (DWConvMixer(kernel=7), site(16, 8)),
        (DWConvMixer(kernel=3), site(16, 8, stride=2)),
        (MLPFFN(ratio=4), site(16, 8)),
        (MLPFFN(ratio=2.5, bias=False), site(16, 8)),
        (IRBFFN(ratio=4, kernel=5), site(16, 8, norm="batchnorm", act="silu")),
        (IRBFFN(ratio=6, kernel=3, norm=False, bias=True), site(16, 8)),
    ],
)
def test_op_shape_backward_and_closed_form(spec, at):
    module = assert_op_matches_closed_form(spec, at)
    assert_backward(module, (2, at.channels, at.shape.height, at.shape.width))


def test_conv_with_groups_equal_to_channels_is_the_depthwise_conv():
    at = site(8, 10)
    conv = build_op(ConvMixer(kernel=5, groups=8, bias=True), at)
    dw = build_op(DWConvMixer(kernel=5, bias=True), at)
    dw.load_state_dict(conv.state_dict())
    x = torch.randn(2, 8, 10, 10)
    torch.testing.assert_close(conv(x), dw(x))


def test_mlp_equals_two_linears_over_channels():
    mlp = build_op(MLPFFN(ratio=3), site(8, 5))
    x = torch.randn(2, 8, 5, 5)
    tokens = x.permute(0, 2, 3, 1)
    w1, b1 = mlp.fc1.weight.flatten(1), mlp.fc1.bias
    w2, b2 = mlp.fc2.weight.flatten(1), mlp.fc2.bias
    expected = F.linear(F.gelu(F.linear(tokens, w1, b1)), w2, b2).permute(0, 3, 1, 2)
    torch.testing.assert_close(mlp(x), expected)


def test_irb_parameter_count_formula():
    """MobileNetV2 IRB without biases: C*h + h*k^2 + h*C weights plus 2 params per BN channel."""
    c, ratio, k = 24, 4, 5
    h = c * ratio
    module = build_op(IRBFFN(ratio=ratio, kernel=k), site(c, 8, norm="batchnorm"))
    expected = c * h + h * k * k + h * c + 2 * (h + h + c)
    assert sum(p.numel() for p in module.parameters()) == expected


def test_patch_merge_without_norm_is_a_2x2_stride_2_conv():
    merge = build_op(PatchMerge(norm="none"), Shape(6, 8, 8), Shape(10, 4, 4))
    w = merge.reduction.weight  # [out, 4C]; Swin concat order x0..x3 = (dy, dx) = (0,0), (1,0), (0,1), (1,1)
    x = torch.randn(2, 6, 8, 8)
    conv_w = torch.zeros(10, 6, 2, 2)
    for dy in range(2):
        for dx in range(2):
            k = dx * 2 + dy
            conv_w[:, :, dy, dx] = w[:, k * 6:(k + 1) * 6]
    torch.testing.assert_close(merge(x), F.conv2d(x, conv_w, stride=2), rtol=1e-4, atol=1e-5)


def _stage(channels, block, mixer, ffn=None, downsample=None, **extra):
    stage = {"depth": 2, "channels": channels, "block": block, "mixer": mixer, **extra}
    if ffn is not None:
        stage["ffn"] = ffn
    if downsample is not None:
        stage["downsample"] = downsample
    return stage


SMALL_NETWORKS = {
    "bottleneck+resnet_stem": {
        "stem": {"kind": "resnet", "channels": 16},
        "stages": [
            _stage(32, {"kind": "bottleneck"}, {"kind": "conv"}, downsample={"kind": "in_block", "block_stride": 1}, norm="batchnorm", act="relu"),
            _stage(64, {"kind": "bottleneck"}, {"kind": "conv"}, downsample={"kind": "in_block"}, norm="batchnorm", act="relu"),
        ],
    },
    "residual+se+conv_stem": {
        "stem": {"kind": "convs", "layers": [{"channels": 8, "kernel": 3, "stride": 2}, {"channels": 16, "kernel": 3, "stride": 2, "bias": True, "norm": "layernorm", "act": "gelu"}]},
        "stages": [
            _stage(24, {"kind": "residual", "se": {"reduction": 4, "min_channels": 4}}, {"kind": "conv"}, downsample={"kind": "in_block"}, norm="batchnorm"),
        ],
    },
    "metaformer+patch_merge+hidden_head": {
        "stem": {"kind": "patchify", "channels": 16, "patch": 4},
        "stages": [
            _stage(16, {"kind": "metaformer", "layer_scale": 1e-5, "cpe_kernel": 3}, {"kind": "dwconv", "kernel": 3}, {"kind": "irb", "kernel": 3}),
            _stage(32, {"kind": "metaformer", "mixer_norm": "none", "ffn_norm": "batchnorm"}, {"kind": "dwconv"}, {"kind": "mlp"},
                   downsample={"kind": "patch_merge"}, out_norm="groupnorm"),
        ],
        "head": {"kind": "linear", "norm": "layernorm", "hidden": {"ratio": 1.5}, "dropout": 0.1},
    },
    "convnext+conv_downsample+prepool_head": {
        "stem": {"kind": "patchify", "channels": 16, "patch": 2},
        "stages": [
            _stage(16, {"kind": "convnext"}, {"kind": "dwconv"}, {"kind": "mlp"}),
            _stage(32, {"kind": "convnext", "layer_scale": None}, {"kind": "dwconv"}, {"kind": "mlp"},
                   downsample={"kind": "conv", "kernel": 3, "stride": 2, "norm": "batchnorm"}),
        ],
        "head": {"kind": "linear", "hidden": {"ratio": 2, "position": "pre_pool"}},
    },
}


@pytest.mark.parametrize("name", SMALL_NETWORKS)
def test_small_network_closed_form_equals_fvcore_and_trains(name):
    g = genotype_from_dict({"name": name, "image_size": 32, "num_classes": 10, **SMALL_NETWORKS[name]})
    model = build(g)
    counts = count_model(model, g.image_size)
    closed = analytic_cost(g).total
    assert (closed.params, closed.flops) == (counts.params, counts.flops)
    model.train()
    x = torch.randn(2, 3, 32, 32)
    model(x).logsumexp(1).mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_metaformer_with_tiny_layer_scale_is_near_identity():
    g = genotype_from_dict({"name": "ls", "image_size": 32, **SMALL_NETWORKS["metaformer+patch_merge+hidden_head"]})
    block = build(g).stages[0].blocks[0]
    block.eval()
    block.cpe = None
    x = torch.randn(1, 16, 8, 8)
    assert (block(x) - x).abs().max() < 1e-3


def test_resnet50_genotype_matches_timm_exactly():
    import timm

    from archspace import load_genotype

    ours = build(load_genotype("genotypes/resnet50.json"))
    theirs = timm.create_model("resnet50", pretrained=False)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert [tuple(p.shape) for p in ours.parameters()] and isinstance(ours.stages[1].blocks[0].shortcut, nn.Sequential)
