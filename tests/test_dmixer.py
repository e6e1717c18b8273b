"""TransXNet family: D-Mixer (OSRA, IDConv, STE) and MS-FFN."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import archspace
from archspace.cost import count_model
from archspace.cost.analytic import analytic_cost
from archspace.errors import GenotypeError
from archspace.genotype import genotype_from_dict
from archspace.genotype.specs.dmixer import DMixer, MSFFN, kv_size
from archspace.ops.dmixer import IDConv, MultiScaleFFN
from archspace.ops.registry import build_op
from oputils import assert_backward, assert_op_matches_closed_form, site

GENOTYPES = Path(__file__).resolve().parents[1] / "genotypes"


@pytest.mark.parametrize(
    "spec, at",
    [
        (DMixer(heads=2, sr_stride=4), site(32, 16, 16)),
        (DMixer(heads=1, sr_stride=1, pos_bias="none", norm="none"), site(24, 8, 8)),
        (DMixer(heads=2, sr_stride=2, idconv_groups=3, attn_ratio=0.25, pos_bias="block"), site(32, 12, 8)),
        (DMixer(heads=1, sr_stride=8, idconv_kernel=3, idconv_groups=1), site(16, 8, 8)),
        (DMixer(heads=4, sr_stride=1, idconv_kernel=7), site(32, 4, 4)),  # pooled size larger than the map
        (MSFFN(), site(16, 8, 8)),
        (MSFFN(ratio=2, scales=(3,), norm="none"), site(16, 6, 6)),
        (MSFFN(ratio=3, scales=(1, 3, 5)), site(8, 5, 7)),
    ],
)
def test_shape_and_closed_form(spec, at):
    assert_op_matches_closed_form(spec, at)


@pytest.mark.parametrize("spec", [DMixer(heads=2, sr_stride=2, idconv_groups=2), MSFFN(ratio=2)])
def test_backward(spec):
    assert_backward(build_op(spec, site(16, 8, 8)), (2, 16, 8, 8))


def test_idconv_single_group_is_its_static_depthwise_conv():
    """With G=1 the softmax over groups is 1, so IDConv is a plain depthwise conv with the learnable kernel P (and bias b)."""
    x = torch.randn(3, 6, 9, 9)
    op = IDConv(6, kernel=5, groups=1, reduction=2, dynamic_bias=False).eval()
    torch.testing.assert_close(op(x), F.conv2d(x, op.weight.reshape(6, 1, 5, 5), padding=2, groups=6))
    op = IDConv(6, kernel=5, groups=1, reduction=2).eval()
    torch.testing.assert_close(op(x), F.conv2d(x, op.weight.reshape(6, 1, 5, 5), op.bias[0], padding=2, groups=6))


def test_idconv_bias_is_a_per_sample_mixture_of_the_bias_bank():
    """Official IDConv: b = sum_g softmax_g(MLP(mean X)) * b_g, the kernel MLP applied to the global mean."""
    op = IDConv(4, kernel=3, groups=3, reduction=2).eval()
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        a = op.expand(op.act(op.norm(op.reduce(x.mean(dim=(2, 3), keepdim=True))))).reshape(2, 3, 4).softmax(dim=1)
        bias = (a * op.bias).sum(dim=1)
        torch.testing.assert_close(op.dynamic_bias(x), bias)
        no_bias = IDConv(4, kernel=3, groups=3, reduction=2, dynamic_bias=False).eval()
        no_bias.load_state_dict({k: v for k, v in op.state_dict().items() if k != "bias"})
        torch.testing.assert_close(op(x), no_bias(x) + bias[..., None, None])


def test_idconv_kernels_are_per_sample_mixtures():
    """Each sample gets sum_g softmax_g(A') * P_g, and a batch equals its samples run one at a time."""
    op = IDConv(4, kernel=3, groups=3, reduction=2).eval()
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        a = op.expand(op.act(op.norm(op.reduce(op.pool(x))))).reshape(2, 3, 4, 3, 3).softmax(dim=1)
        torch.testing.assert_close(op.dynamic_kernel(x), (a * op.weight).sum(dim=1))
        torch.testing.assert_close(op(x), torch.cat([op(x[:1]), op(x[1:])]))
        assert not torch.allclose(op.dynamic_kernel(x)[0], op.dynamic_kernel(x)[1])


def test_msffn_single_scale_is_an_inverted_residual_ffn():
    """MS-FFN with scales (3,) is the IRB sandwich: 1x1 expand -> act -> BN -> DW 3x3 -> act -> BN -> 1x1 -> BN."""
    op = MultiScaleFFN(8, 16, scales=(3,), dw_residual=False).eval()
    irb = nn.Sequential(
        nn.Conv2d(8, 16, 1, bias=False), nn.GELU(), nn.BatchNorm2d(16),
        nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.GELU(), nn.BatchNorm2d(16),
        nn.Conv2d(16, 8, 1, bias=False), nn.BatchNorm2d(8),
    ).eval()
    for src, dst in zip((op.fc1, op.norm1, op.dw[0], op.norm2, op.fc2, op.norm3), (irb[0], irb[2], irb[3], irb[5], irb[6], irb[7])):
        dst.load_state_dict(src.state_dict())
    for bn in (op.norm1, op.norm2, op.norm3):  # non-trivial running statistics
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    for src, dst in zip((op.norm1, op.norm2, op.norm3), (irb[2], irb[5], irb[7])):
        dst.load_state_dict(src.state_dict())
    x = torch.randn(2, 8, 7, 7)
    with torch.no_grad():
        torch.testing.assert_close(op(x), irb(x))


def test_msffn_dw_residual_adds_the_identity_around_the_depthwise_convs():
    """Official MS-FFN: norm(act(DW(x) + x)); with the DW convs zeroed only the identity is left."""
    op = MultiScaleFFN(4, 8, scales=(1, 3)).eval()
    bare = MultiScaleFFN(4, 8, scales=(1, 3), dw_residual=False).eval()
    bare.load_state_dict(op.state_dict())
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        assert not torch.allclose(op(x), bare(x))
        for conv in op.dw:
            conv.weight.zero_()
            conv.bias.zero_()
        h = op.norm1(op.act1(op.fc1(x)))
        torch.testing.assert_close(op(x), op.norm3(op.fc2(op.norm2(op.act2(h)))))


def test_msffn_scales_act_on_their_own_share():
    """Each hidden quarter sees only its own kernel: the 1x1 share is a per-channel scale (plus bias)."""
    op = MultiScaleFFN(4, 8, scales=(1, 3, 5, 7))
    assert [conv.kernel_size for conv in op.dw] == [(1, 1), (3, 3), (5, 5), (7, 7)]
    assert all(conv.in_channels == conv.out_channels == conv.groups == 2 for conv in op.dw)


@pytest.mark.parametrize("ratio, split", [(0.25, (8, 24)), (0.5, (16, 16)), (0.75, (24, 8))])
def test_attn_ratio_routes_channels(ratio, split):
    """With attn_first, the first int(C * ratio) channels go through OSRA only, the rest through IDConv only (before the STE)."""
    op = build_op(DMixer(attn_ratio=ratio, heads=2, sr_stride=2, attn_first=True), site(32, 8, 8)).eval()
    assert op.split == split
    assert op.osra.q.in_channels == split[0] and op.idconv.weight.shape[1] == split[1]
    op.ste = nn.Identity()
    x = torch.randn(1, 32, 8, 8)
    attn = split[0]
    with torch.no_grad():
        y = op(x)
        x_conv = x.clone()
        x_conv[:, attn:] += torch.randn_like(x_conv[:, attn:])
        y_conv = op(x_conv)
        x_attn = x.clone()
        x_attn[:, :attn] += torch.randn_like(x_attn[:, :attn])
        y_attn = op(x_attn)
    torch.testing.assert_close(y_conv[:, :attn], y[:, :attn])
    assert not torch.allclose(y_conv[:, attn:], y[:, attn:])
    torch.testing.assert_close(y_attn[:, attn:], y[:, attn:])
    assert not torch.allclose(y_attn[:, :attn], y[:, :attn])


def test_official_order_sends_the_leading_channels_to_idconv():
    """Default (official code): the first half goes to IDConv and comes back first; OSRA gets the second half."""
    op = build_op(DMixer(heads=2, sr_stride=2), site(32, 8, 8)).eval()
    op.ste = nn.Identity()
    x = torch.randn(1, 32, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(op(x), torch.cat([op.idconv(x[:, :16]), op.osra(x[:, 16:])], dim=1))


def test_osr_refine_adds_act_pointwise_dw_conv_and_norm():
    """Official OSR: DW (s+3) conv stride s, BN, GELU, 1x1 DW conv, BN; sr_refine=False keeps the paper's conv + BN."""
    refined = build_op(DMixer(heads=1, sr_stride=4), site(16, 28, 28)).osra.sr
    assert [type(m) for m in refined] == [nn.Conv2d, nn.BatchNorm2d, nn.GELU, nn.Conv2d, nn.BatchNorm2d]
    assert refined[3].kernel_size == (1, 1) and refined[3].groups == 8 and refined[3].bias is None
    bare = build_op(DMixer(heads=1, sr_stride=4, sr_refine=False), site(16, 28, 28)).osra.sr
    assert [type(m) for m in bare] == [nn.Conv2d, nn.BatchNorm2d]


def test_osr_kernel_is_stride_plus_three():
    op = build_op(DMixer(heads=1, sr_stride=4), site(16, 28, 28))
    assert op.osra.sr[0].kernel_size == (7, 7) and op.osra.sr[0].stride == (4, 4)
    assert kv_size(56, 56, 8) == kv_size(28, 28, 4) == kv_size(14, 14, 2) == kv_size(7, 7, 1) == (7, 7)
    assert op.osra.pos_bias.shape == (1, 1, 28 * 28, 49)


def test_position_bias_enters_before_the_softmax():
    """A large bias on one key makes every query return that key's value: B is added to the logits (Eq. 4)."""
    op = build_op(DMixer(heads=2, sr_stride=2), site(16, 8, 8)).eval()
    osra, j = op.osra, 5
    x = torch.randn(1, 8, 8, 8)
    with torch.no_grad():
        osra.pos_bias[..., j] = 1e4
        y = osra.sr(x)
        v = osra.kv(y + osra.local(y))[:, 8:].flatten(2)[..., j]
        torch.testing.assert_close(osra(x), v[..., None, None].expand(1, 8, 8, 8))


def test_ste_is_residual():
    """With its last norm zeroed the STE is the identity (Eq. 5: ... + X)."""
    op = build_op(DMixer(heads=1, sr_stride=1), site(16, 4, 4)).eval()
    nn.init.zeros_(op.ste.norm3.weight)
    x = torch.randn(2, 16, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(op.ste(x), x)
    assert op.ste.squeeze.out_channels == 16 and build_op(DMixer(), site(256, 2, 2)).ste.squeeze.out_channels == 32


def test_position_bias_follows_the_input_size():
    """B is built for the site's map and resized (bicubic) for another input size, as the official code does."""
    op = build_op(DMixer(heads=2, sr_stride=2), site(16, 8, 8)).eval()
    with torch.no_grad():
        op.osra.pos_bias.normal_()
        assert op(torch.randn(1, 16, 12, 12)).shape == (1, 16, 12, 12)


def _tiny(pos_bias: str = "stage", **stage0) -> dict:
    """A two-stage TransXNet-like genotype at 32 px."""
    stage = lambda channels, heads, sr: {  # noqa: E731
        "depth": 2,
        "channels": channels,
        "block": {"kind": "metaformer", "layer_scale": 1e-5, "cpe_kernel": 7},
        "mixer": {"kind": "dmixer", "heads": heads, "sr_stride": sr, "idconv_groups": 2, "pos_bias": pos_bias},
        "ffn": {"kind": "msffn", "ratio": 4},
        "norm": "groupnorm",
    }
    first, second = stage(16, 1, 4), stage(32, 2, 2)
    second["downsample"] = {"kind": "conv", "kernel": 3, "stride": 2, "bias": False, "norm": "batchnorm"}
    first.update(stage0)
    return {
        "name": "tiny_transxnet",
        "image_size": 32,
        "num_classes": 10,
        "stem": {"kind": "convs", "layers": [{"channels": 16, "kernel": 7, "stride": 4, "norm": "batchnorm", "act": "none"}]},
        "stages": [first, second],
        "head": {"kind": "linear", "norm": "groupnorm"},
    }


@pytest.mark.parametrize("pos_bias", ["stage", "block", "none"])
def test_network_position_bias_sharing(pos_bias):
    g = genotype_from_dict(_tiny(pos_bias))
    model = archspace.build(g)
    biases = [blk.mixer.osra.pos_bias for stage in model.stages for blk in stage.blocks]
    if pos_bias == "stage":
        assert biases[0] is biases[1] and biases[2] is biases[3] and biases[0] is not biases[2]
    elif pos_bias == "block":
        assert len({id(b) for b in biases}) == 4
    else:
        assert all(b is None for b in biases)
    counts, closed = count_model(model, g.image_size), analytic_cost(g).total
    assert (closed.params, closed.flops) == (counts.params, counts.flops)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize(
    "change, path",
    [
        ({"mixer": {"kind": "dmixer", "heads": 3}}, "stages[0].mixer.heads"),
        ({"mixer": {"kind": "dmixer", "sr_stride": 3}}, "stages[0].mixer.sr_stride"),
        ({"mixer": {"kind": "dmixer", "idconv_kernel": 4}}, "stages[0].mixer.idconv_kernel"),
        ({"mixer": {"kind": "dmixer", "attn_ratio": 0.01}}, "stages[0].mixer.attn_ratio"),
        ({"mixer": {"kind": "dmixer", "idconv_reduction": 16}}, "stages[0].mixer.idconv_reduction"),
        ({"ffn": {"kind": "msffn", "ratio": 4, "scales": [1, 3, 5]}}, "stages[0].ffn.scales"),
        ({"ffn": {"kind": "msffn", "ratio": 4, "scales": [1, 2, 3, 5]}}, "stages[0].ffn.scales[1]"),
    ],
)
def test_bad_genes_are_refused_with_their_path(change, path):
    with pytest.raises(GenotypeError) as err:
        genotype_from_dict(_tiny(**change))
    assert err.value.path == path


def test_layer_scale_bias_and_pre_pool_head_norm():
    """Official TransXNet: layer scale gamma * x + beta (per-channel grouped 1x1 conv) and GroupNorm on the map before pooling."""
    spec = _tiny()
    for stage in spec["stages"]:
        stage["block"]["layer_scale_bias"] = True
    spec["head"]["norm_position"] = "pre_pool"
    g = genotype_from_dict(spec)
    model = archspace.build(g).eval()
    ls = model.stages[0].blocks[0].ls1
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        ls.beta.normal_()
        torch.testing.assert_close(ls(x), F.conv2d(x, ls.gamma.view(16, 1, 1, 1), ls.beta, groups=16))
        feats = torch.randn(2, 32, 4, 4)
        head = model.head
        head.norm.weight.normal_()
        torch.testing.assert_close(head(feats), head.fc(head.norm(feats).mean(dim=(2, 3))))
    counts, closed = count_model(model, g.image_size), analytic_cost(g).total
    assert (closed.params, closed.flops) == (counts.params, counts.flops)
    spec["stages"][0]["block"]["layer_scale"] = None
    with pytest.raises(GenotypeError) as err:
        genotype_from_dict(spec)
    assert err.value.path == "stages[0].block.layer_scale_bias"


OFFICIAL_PARAMS = {"transxnet_t": 12_834_808, "transxnet_s": 26_864_068, "transxnet_b": 48_009_002}  # official code, counted


@pytest.mark.parametrize("name", ["transxnet_t", "transxnet_s", "transxnet_b"])
def test_genotypes_load_and_plan(name):
    g = archspace.load_genotype(GENOTYPES / f"{name}.json")
    closed = analytic_cost(g).total
    assert closed.params == OFFICIAL_PARAMS[name]
    assert abs(closed.params / 1e6 / g.reference.params_m - 1) < 0.02
    assert abs(closed.flops / 1e9 / g.reference.flops_g - 1) < 0.05
    assert json.loads((GENOTYPES / f"{name}.json").read_text())["name"] == name


@pytest.mark.slow
@pytest.mark.parametrize("name", ["transxnet_t", "transxnet_s", "transxnet_b"])
def test_genotype_fidelity(name):
    """Params within 2% and FLOPs within 5% of the paper; the closed form equals fvcore on the whole network."""
    g = archspace.load_genotype(GENOTYPES / f"{name}.json")
    counts = count_model(archspace.build(g), g.image_size)
    closed = analytic_cost(g).total
    assert (closed.params, closed.flops) == (counts.params, counts.flops)
    assert abs(counts.params / 1e6 / g.reference.params_m - 1) < 0.02
    assert abs(counts.flops / 1e9 / g.reference.flops_g - 1) < 0.05

