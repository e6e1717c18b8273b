"""Face-recognition pieces (SCSC paper §4.2): PReLU, grouped stem convs, the inverted residual, SCSC expansion,
residual blocks without a projection shortcut, the GDC and flat embedding heads, and the four face genotypes."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import archspace
from archspace.cost.analytic import analytic_cost
from archspace.cost.counting import count_model
from archspace.errors import GenotypeError, InputSizeError
from archspace.fidelity import fidelity
from archspace.genotype.io import genotype_from_dict
from archspace.zoo import zoo_genotype

FACE = ["mobilefacenet", "mobilefacenet_scsc", "faceresnet", "faceresnet_scsc"]


def tiny(block: dict, mixer: dict, head: dict, stem_act: str = "prelu", num_classes: int = 0, image_size: int = 32) -> archspace.Genotype:
    """A MobileFaceNet-like network at millisecond cost: conv + depthwise stem, two stages, an embedding head (4x4 map at 32 px)."""
    stem = {"kind": "convs", "layers": [{"channels": 16, "stride": 2, "act": stem_act},
                                        {"channels": 16, "stride": 1, "groups": 16, "act": stem_act}]}
    stages = [
        {"depth": 2, "channels": 16, "downsample": {"kind": "in_block", "block_stride": 2}, "block": block, "mixer": mixer, "norm": "batchnorm"},
        {"depth": 2, "channels": 32, "downsample": {"kind": "in_block", "block_stride": 2}, "block": block, "mixer": mixer, "norm": "batchnorm"},
    ]
    return genotype_from_dict({"name": "tiny_face", "image_size": image_size, "num_classes": num_classes, "stem": stem, "stages": stages, "head": head})


IRB = {"kind": "inverted_residual", "expansion": 2, "act": "prelu"}
DW = {"kind": "dwconv", "kernel": 3, "bias": False}
SCSC = {"kind": "scsc", "kernels": [3, 5], "g": 4, "expansion": 3}
GDC = {"kind": "gdc", "channels": 64, "embedding_size": 24}
FLAT = {"kind": "flat_embedding", "embedding_size": 24, "dropout": 0.4}
VARIANTS = {
    "irb+gdc": (IRB, DW, GDC),
    "scsc_no_projection+gdc": ({"kind": "residual", "post_act": False, "projection": False}, SCSC, GDC),
    "scsc+flat": ({"kind": "residual"}, {**SCSC, "expansion": 1}, FLAT),
    "irb+gdc_without_conv": ({**IRB, "act": None}, DW, {"kind": "gdc", "channels": None, "embedding_size": 8}),
}


@pytest.mark.parametrize("num_classes", [0, 7])
@pytest.mark.parametrize("variant", VARIANTS)
def test_analytic_equals_fvcore_and_numel(variant, num_classes):
    g = tiny(*VARIANTS[variant], num_classes=num_classes)
    model = archspace.build(g).eval()
    counts = count_model(model, g.image_size)
    assert not counts.uncounted_ops, counts.uncounted_ops
    total = analytic_cost(g).total
    assert (total.params, total.flops) == (counts.params, counts.flops) == (sum(p.numel() for p in model.parameters()), counts.flops)
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, num_classes or g.head.embedding_size)


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_reach_every_parameter(variant):
    model = archspace.build(tiny(*VARIANTS[variant], num_classes=5)).train()
    model(torch.randn(4, 3, 32, 32)).square().sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_prelu_is_per_channel_and_is_relu_at_slope_zero():
    from archspace.ops.layers import make_act

    act = make_act("prelu", 3)
    assert sum(p.numel() for p in act.parameters()) == 3
    x = torch.randn(2, 3, 4, 4)
    with torch.no_grad():
        act.weight.copy_(torch.tensor([0.0, 0.5, -1.0]))
    y = act(x)
    assert torch.equal(y[:, 0], F.relu(x[:, 0]))  # slope 0: ReLU
    assert torch.allclose(y[:, 1], torch.where(x[:, 1] > 0, x[:, 1], 0.5 * x[:, 1]))
    assert torch.allclose(y[:, 2], x[:, 2].abs())  # slope -1: |x|


def test_prelu_counts_one_parameter_per_channel_in_the_closed_form():
    relu, prelu = (analytic_cost(tiny(IRB, DW, GDC, stem_act=a)).total.params for a in ("relu", "prelu"))
    assert prelu - relu == 16 + 16  # the two stem layers' 16 slopes each


def test_depthwise_stem_layer_and_groups_that_do_not_divide():
    stem = archspace.build(tiny(IRB, DW, GDC)).stem
    assert stem[1][0].weight.shape == (16, 1, 3, 3)
    bad = {"kind": "convs", "layers": [{"channels": 16, "stride": 2}, {"channels": 16, "stride": 1, "groups": 3}]}
    with pytest.raises(GenotypeError, match=r"^stem\.layers\[1\]\.groups: 3 does not divide 16 channels$"):
        genotype_from_dict({**tiny(IRB, DW, GDC).model_dump(mode="json"), "stem": bad})


def _block(genotype, stage: int, index: int):
    return archspace.build(genotype).stages[stage].blocks[index].eval()


def test_inverted_residual_params_by_formula_and_shortcut_rule():
    """MobileNetV2 Table 1 unit: 1x1 C->tC + BN + PReLU, 3x3 DW + BN + PReLU, 1x1 tC->C' + BN; identity only at stride 1, C = C'."""
    g = tiny(IRB, DW, GDC)
    first, second = _block(g, 1, 0), _block(g, 1, 1)  # 16 -> 32 stride 2; 32 -> 32 stride 1
    for block, c_in, c_out in ((first, 16, 32), (second, 32, 32)):
        h = 2 * c_in
        expected = c_in * h + 2 * h + h + 9 * h + 2 * h + h + h * c_out + 2 * c_out
        assert sum(p.numel() for p in block.parameters()) == expected
    x = torch.randn(1, 16, 8, 8)
    assert first(x).shape == (1, 32, 4, 4)
    with torch.no_grad():  # a zero branch: the stride-1 block is the identity, the stride-2 block gives zeros
        for block in (first, second):
            block.project[1].weight.zero_()
            block.project[1].bias.zero_()
        y = torch.randn(1, 32, 4, 4)
        assert torch.equal(second(y), y) and not first(x).any()


def test_scsc_expansion_widens_the_branches():
    """reduce: C_in -> C_in x expansion / m (MobileFaceNet-SCSC reading); expansion 1 is Eq. 1."""
    block = _block(tiny({"kind": "residual", "projection": False}, SCSC, GDC), 1, 1)
    assert block.mixer.reduce[0].weight.shape == (3 * 32 // 2, 32, 1, 1)
    assert [b.weight.shape for b in block.mixer.branches] == [(48, 1, 3, 3), (48, 1, 5, 5)]
    with pytest.raises(GenotypeError, match=r"stages\[0\]\.mixer\.g: 4 does not divide the 6 reduced channels"):
        tiny({"kind": "residual"}, {**SCSC, "expansion": 0.75}, GDC)


def test_residual_without_projection_has_no_shortcut_where_it_strides():
    g = tiny({"kind": "residual", "post_act": False, "projection": False}, SCSC, GDC)
    first, second = _block(g, 1, 0), _block(g, 1, 1)
    assert first.shortcut is None and isinstance(second.shortcut, nn.Identity)
    projected = _block(tiny({"kind": "residual", "post_act": False}, SCSC, GDC), 1, 0)
    gap = sum(p.numel() for p in projected.parameters()) - sum(p.numel() for p in first.parameters())
    assert gap == 16 * 32 + 2 * 32  # the 1x1 conv + BN shortcut
    x = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        assert torch.equal(first(x), first.se(first.mixer(x)))


def test_gdconv_is_a_per_channel_weighted_sum_over_the_whole_map():
    """GDConv (MobileFaceNet Eq. 1): G_m = sum_ij K_ijm F_ijm, one kernel the size of the map per channel."""
    head = archspace.build(tiny(IRB, DW, GDC)).head.eval()
    embed = head.embed
    x = torch.randn(2, 64, 4, 4)
    expected = (x * embed.gdconv.weight[:, 0]).sum(dim=(-2, -1))
    assert embed.gdconv.weight.shape == (64, 1, 4, 4)
    assert torch.allclose(embed.gdconv(x).flatten(1), expected, atol=1e-6)


def test_flat_embedding_is_the_fc_over_the_flattened_map():
    """ArcFace output E: BN, dropout, FC(C*H*W -> E), BN1d; our FC is a conv whose kernel is the map: same weights, same result."""
    embed = archspace.build(tiny({"kind": "residual"}, {**SCSC, "expansion": 1}, FLAT)).head.embed.eval()
    x = torch.randn(2, 32, 4, 4)
    with torch.no_grad():
        normed = embed.in_norm(x)
        fc = F.linear(normed.flatten(1), embed.linear.weight.flatten(1), embed.linear.bias)
        assert torch.allclose(embed(x), embed.norm(fc), atol=1e-5)


def test_embedding_head_follows_the_built_size_refuses_another_and_resizes_when_dynamic():
    g = tiny(IRB, DW, GDC)
    assert archspace.build(g, img_size=64).head.embed.gdconv.weight.shape[-2:] == (8, 8)
    fixed = archspace.build(g).eval()
    assert fixed.fixed_input_size
    with pytest.raises(InputSizeError, match=r"^head \(EmbeddingHead\): got a 8x8 map, accepts only 4x4 \(its kernel spans the whole final map\)"):
        fixed(torch.randn(1, 3, 64, 64))
    dynamic = archspace.build(g, dynamic_img_size=True).eval()
    dynamic.load_state_dict(fixed.state_dict())
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(dynamic(x), fixed(x))
        assert dynamic(torch.randn(1, 3, 64, 96)).shape == (1, 24)


def test_set_input_size_resamples_the_map_kernel_and_keeps_the_classifier():
    model = archspace.build(tiny(IRB, DW, GDC, num_classes=3)).eval()
    model.reset_classifier(5)
    fc = model.head.fc
    with torch.no_grad():
        model.head.embed.gdconv.weight.fill_(0.5)
    model.set_input_size(64)
    weight = model.head.embed.gdconv.weight
    assert weight.shape[-2:] == (8, 8) and torch.allclose(weight, torch.full_like(weight, 0.5)) and model.head.fc is fc
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 5)


def test_mobilefacenet_at_112_px_is_the_mobilefacenets_paper_count():
    """MobileFaceNets Table 2: 221M MAdds at 112x112; ours without BatchNorm (the paper's convention) is 221.0M."""
    data = zoo_genotype("mobilefacenet").model_dump(mode="json")
    g = genotype_from_dict({**data, "image_size": 112})
    assert round(analytic_cost(g).total.without(("norm",)).flops / 1e6) == 221
    assert archspace.build(g).head.embed.gdconv.weight.shape[-2:] == (7, 7)  # GDConv 7x7 at 112 px, as the paper


@pytest.mark.parametrize("name", FACE)
def test_face_genotypes_report_megaface_not_imagenet(name):
    row = fidelity(zoo_genotype(name))
    ref = zoo_genotype(name).reference
    assert ref.top1 is None and ref.megaface_rank1 and ref.family == "Face"
    assert row.paper_accuracy == f"{ref.megaface_rank1} MegaFace R1"
    assert ref.official.repo is None and ref.official.note  # no official face code: the note names the closest relative


@pytest.mark.parametrize("name", FACE)
def test_face_genotypes_output_their_embedding(name):
    g = zoo_genotype(name)
    model = archspace.build(g).eval()
    with torch.no_grad():
        x = torch.randn(1, 3, 96, 96)
        features = model.forward_features(x)
        assert torch.equal(model.forward_head(features, pre_logits=True), model(x))
    assert g.num_classes == 0 and model(x).shape == (1, g.head.embedding_size)
