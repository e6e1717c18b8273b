"""Global-attention family: PVT spatial-reduction attention, the PVTv2 conv FFN, the U-PVT position embedding."""
from __future__ import annotations

import pytest
import torch
from oputils import assert_backward, assert_op_matches_closed_form, site
from torch.nn import functional as F

import archspace
from archspace import GenotypeError
from archspace.cost import count_model
from archspace.cost.analytic import analytic_cost
from archspace.cost.analytic.families.attention import sra_matmuls
from archspace.cost.counting import flop_analysis
from archspace.genotype import genotype_from_dict
from archspace.genotype.specs.attention import ConvMLPFFN, SRAMixer
from archspace.ops.attention import SpatialReductionAttention
from archspace.ops.registry import build_op


@pytest.mark.parametrize(
    "spec, at",
    [
        (SRAMixer(heads=2, sr=1), site(16, 6, 6)),
        (SRAMixer(heads=4, sr=2, qkv_bias=False), site(32, 8, 4)),
        (SRAMixer(heads=1, sr=4), site(8, 8, 8)),
        (ConvMLPFFN(ratio=2), site(8, 5, 7)),
        (ConvMLPFFN(ratio=4, kernel=5, bias=False), site(8, 6, 6)),
    ],
)
def test_shape_backward_and_closed_form(spec, at):
    module = assert_op_matches_closed_form(spec, at)
    assert_backward(module, (2, at.channels, at.shape.height, at.shape.width))


def mhsa_reference(x_tokens: torch.Tensor, kv_tokens: torch.Tensor, m: SpatialReductionAttention) -> torch.Tensor:
    """Textbook multi-head attention (Vaswani et al. Eq. 1), head by head, with the module's weights."""
    c = x_tokens.shape[-1]
    d = c // m.heads
    q = F.linear(x_tokens, m.q.weight, m.q.bias)
    k, v = F.linear(kv_tokens, m.kv.weight, m.kv.bias).split(c, dim=-1)
    heads = []
    for i in range(m.heads):
        s = slice(i * d, (i + 1) * d)
        a = torch.softmax(q[..., s] @ k[..., s].transpose(-2, -1) / d**0.5, dim=-1)
        heads.append(a @ v[..., s])
    return F.linear(torch.cat(heads, dim=-1), m.proj.weight, m.proj.bias)


def test_sra_ratio_one_is_plain_global_mhsa():
    m = SpatialReductionAttention(16, heads=4, sr=1).eval()
    x = torch.randn(2, 16, 5, 6)
    tokens = x.flatten(2).transpose(1, 2)
    expected = mhsa_reference(tokens, tokens, m).transpose(1, 2).reshape(2, 16, 5, 6)
    torch.testing.assert_close(m(x), expected)
    assert m.sr is None and m.norm is None


def test_sra_attends_to_reduced_keys():
    """Keys/values come from a k=s=sr conv + LayerNorm: the queries stay at full resolution."""
    m = SpatialReductionAttention(8, heads=2, sr=2).eval()
    x = torch.randn(1, 8, 4, 6)
    tokens = x.flatten(2).transpose(1, 2)
    reduced = F.layer_norm(
        F.conv2d(x, m.sr.weight, m.sr.bias, stride=2).flatten(2).transpose(1, 2), (8,), m.norm.weight, m.norm.bias
    )
    assert reduced.shape[1] == 6  # 2x3 keys for 24 queries
    expected = mhsa_reference(tokens, reduced, m).transpose(1, 2).reshape(1, 8, 4, 6)
    torch.testing.assert_close(m(x), expected)


def test_sra_matmuls_are_the_attention_products():
    spec, at = SRAMixer(heads=2, sr=2), site(16, 8, 8)
    m = build_op(spec, at)
    x = torch.randn(1, 16, 8, 8)
    by_op = flop_analysis(m.eval(), x).by_operator()  # the attention product runs through SDPA
    assert by_op["scaled_dot_product_attention"] == sra_matmuls(spec, at).flops == 2 * 64 * 16 * 16


def test_conv_mlp_is_fc_dwconv_act_fc():
    m = build_op(ConvMLPFFN(ratio=2), site(4, 5, 5)).eval()
    x = torch.randn(1, 4, 5, 5)
    h = F.conv2d(x, m.fc1.weight, m.fc1.bias)
    h = F.gelu(F.conv2d(h, m.dwconv.weight, m.dwconv.bias, padding=1, groups=8))
    torch.testing.assert_close(m(x), F.conv2d(h, m.fc2.weight, m.fc2.bias))


def pvt_dict(mixer: dict | None = None, ffn: dict | None = None, pos_embed: bool = False, image_size: int = 32) -> dict:
    block = {"kind": "metaformer", "layer_scale": 1e-6, "pos_embed": pos_embed}
    stage = lambda c, ds: {
        "depth": 2, "channels": c, "downsample": ds, "block": block,
        "mixer": mixer or {"kind": "sra", "heads": 2, "sr": 2}, "ffn": ffn or {"kind": "conv_mlp", "ratio": 2}, "out_norm": "layernorm",
    }
    return {
        "name": "tiny_pvt", "image_size": image_size,
        "stem": {"kind": "convs", "layers": [{"channels": 8, "kernel": 7, "stride": 4, "bias": True, "norm": "layernorm", "act": "none"}]},
        "stages": [stage(8, {"kind": "none"}), stage(16, {"kind": "conv", "kernel": 3, "stride": 2, "norm": "layernorm"})],
    }


@pytest.mark.parametrize(
    "mixer, ffn, path",
    [
        ({"kind": "sra", "heads": 3, "sr": 1}, None, "stages[0].mixer.heads"),
        ({"kind": "sra", "heads": 2, "sr": 3}, None, "stages[0].mixer.sr"),
        ({"kind": "sra", "heads": 2, "sr": 8}, None, "stages[1].mixer.sr"),  # 4x4 map at stage 2
        (None, {"kind": "conv_mlp", "kernel": 4}, "stages[0].ffn.kernel"),
    ],
)
def test_bad_genes_are_refused_with_their_path(mixer, ffn, path):
    with pytest.raises(GenotypeError) as info:
        genotype_from_dict(pvt_dict(mixer, ffn))
    assert info.value.path == path, str(info.value)


def test_position_embedding_only_in_front_of_each_stage_first_block():
    g = genotype_from_dict(pvt_dict(pos_embed=True))
    model = archspace.build(g)
    names = [n for n, _ in model.named_parameters() if n.endswith("pos_embed")]
    assert names == ["stages.0.blocks.0.pos_embed", "stages.1.blocks.0.pos_embed"]
    assert model.stages[1].blocks[0].pos_embed.shape == (1, 16, 4, 4)
    without = archspace.build(genotype_from_dict(pvt_dict(pos_embed=False)))
    extra = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in without.parameters())
    assert extra == 8 * 8 * 8 + 16 * 4 * 4
    counts = count_model(model, g.image_size)
    total = analytic_cost(g).total
    assert (total.params, total.flops) == (counts.params, counts.flops)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 1000)


def test_pvt_v2_b2_matches_timm_parameter_count():
    import timm

    g = archspace.load_genotype("genotypes/pvt_v2_b2.json")
    ours = sum(p.numel() for p in archspace.build(g).parameters())
    theirs = sum(p.numel() for p in timm.create_model("pvt_v2_b2").parameters())
    assert ours == theirs == analytic_cost(g).total.params


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pvt_v2_b2", "u_pvt_micro", "u_pvt_tiny"])
def test_zoo_genotype_closed_form_equals_fvcore(name):
    g = archspace.load_genotype(f"genotypes/{name}.json")
    counts = count_model(archspace.build(g), g.image_size)
    total = analytic_cost(g).total
    assert (total.params, total.flops) == (counts.params, counts.flops)
