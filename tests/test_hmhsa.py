"""TransCNN family: global MHSA, H-MHSA (TransCNN §3.2), the two-branch downsample (TDB), the TransCNN genotypes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from oputils import assert_backward, assert_op_matches_closed_form, fvcore_counts, site
from torch.nn import functional as F

import archspace
from archspace import GenotypeError
from archspace.cost import count_model
from archspace.cost.analytic import analytic_cost, cost_of
from archspace.fidelity import fidelity
from archspace.genotype import genotype_from_dict
from archspace.genotype.base import Shape
from archspace.genotype.specs.hmhsa import HMHSAMixer, MHSAMixer, TDBDownsample
from archspace.ops.hmhsa import HMHSA
from archspace.ops.registry import build_op

GENOTYPES = Path(__file__).resolve().parents[1] / "genotypes"


@pytest.mark.parametrize(
    "spec, at",
    [
        (MHSAMixer(head_dim=8), site(16, 6, 4)),
        (MHSAMixer(heads=2, qkv_bias=False, proj_bias=False), site(8, 5, 5)),
        (HMHSAMixer(grids=(4, None), head_dim=8), site(16, 8, 8)),  # the paper's two levels, Q from the full map
        (HMHSAMixer(grids=(2, None), head_dim=8, pooling="avg", input_norm=True, level_norm=True), site(16, 8, 4, norm="batchnorm")),
        (HMHSAMixer(grids=(4, None), pools=(2,), pooling="max", heads=2), site(16, 8, 8)),  # the 2021 code's grid/pool split
        (HMHSAMixer(grids=(2, 2, None), head_dim=8, query="pooled", level_norm=True), site(16, 8, 8)),  # Eq. 9-12
        (HMHSAMixer(grids=(2, 2, None), head_dim=8, query="full"), site(16, 8, 8)),
        (HMHSAMixer(grids=(3,), heads=4), site(16, 6, 9)),  # one windowed level only
    ],
)
def test_shape_backward_and_closed_form(spec, at):
    module = assert_op_matches_closed_form(spec, at)
    assert_backward(module, (2, at.channels, at.shape.height, at.shape.width))


def test_one_level_over_the_whole_map_is_global_mhsa():
    """H-MHSA with a single grid covering the map is Eq. 1-2 directly: the same weights give global MHSA."""
    mhsa = build_op(MHSAMixer(heads=2), site(16, 6, 6)).eval()
    x = torch.randn(2, 16, 6, 6)
    for grids in ((None,), (6,)):
        h = build_op(HMHSAMixer(grids=grids, heads=2), site(16, 6, 6)).eval()
        h.load_state_dict(mhsa.state_dict())
        torch.testing.assert_close(h(x), mhsa(x))


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Textbook multi-head attention on token rows (Vaswani et al. Eq. 1), head by head."""
    d = q.shape[-1] // heads
    out = []
    for i in range(heads):
        s = slice(i * d, (i + 1) * d)
        out.append(torch.softmax(q[:, s] @ k[:, s].T / d**0.5, dim=-1) @ v[:, s])
    return torch.cat(out, dim=-1)


def conv1x1(x: torch.Tensor, conv: torch.nn.Conv2d) -> torch.Tensor:
    """A 1x1 conv on [N, C] token rows."""
    return F.linear(x, conv.weight[:, :, 0, 0], conv.bias)


def test_two_levels_follow_the_paper_equations():
    """Eq. 5-7 in G0xG0 cells, Eq. 8 max + avg pooling, Q = A0 Wq (§4.1) against global pooled keys, Eq. 12."""
    c, heads, g, size = 8, 2, 2, 4
    m: HMHSA = build_op(HMHSAMixer(grids=(g, None), heads=heads), site(c, size, size)).eval()
    x = torch.randn(1, c, size, size)
    tokens = x[0].flatten(1).T  # [H*W, C], row-major
    q, k, v = conv1x1(tokens, m.qkv).chunk(3, dim=1)
    a0 = torch.zeros_like(tokens)
    for r in range(0, size, g):
        for s in range(0, size, g):
            cell = torch.tensor([(r + i) * size + s + j for i in range(g) for j in range(g)])
            a0[cell] = attention(q[cell], k[cell], v[cell], heads)
    a0 = tokens + a0  # Eq. 7
    grid = a0.T.reshape(1, c, size, size)
    pooled = (F.max_pool2d(grid, g) + F.avg_pool2d(grid, g))[0].flatten(1).T  # Eq. 8
    level = m.levels[0]
    k1, v1 = conv1x1(pooled, level.kv).chunk(2, dim=1)
    a1 = attention(conv1x1(a0, level.q), k1, v1, heads)
    expected = conv1x1(a0 + a1, m.proj).T.reshape(1, c, size, size)
    torch.testing.assert_close(m(x), expected)


def test_first_level_is_local_second_level_global():
    """A change inside one G0xG0 cell stays in that cell after level 1 alone, and reaches every token with level 2."""
    at = site(8, 8, 8)
    local = build_op(HMHSAMixer(grids=(4,), heads=2), at).eval()
    hier = build_op(HMHSAMixer(grids=(4, None), heads=2), at).eval()
    x = torch.randn(1, 8, 8, 8)
    y = x.clone()
    y[..., 0, 0] += 1.0
    with torch.no_grad():
        changed_local = (local(x) - local(y)).abs().amax(dim=1)[0] > 1e-6
        changed_hier = (hier(x) - hier(y)).abs().amax(dim=1)[0] > 1e-6
    assert changed_local[:4, :4].all() and not changed_local[4:].any() and not changed_local[:, 4:].any()
    assert changed_hier.all()


def genotype(mixer: dict, image: int = 56, downsample: dict | None = None) -> dict:
    stage = {"depth": 1, "channels": 16, "mixer": mixer, "ffn": {"kind": "irb", "ratio": 2}, "norm": "batchnorm", "act": "silu"}
    second = {**stage, "channels": 32, "downsample": downsample or {"kind": "tdb"}}
    return {
        "name": "tiny_transcnn", "image_size": image,
        "stem": {"kind": "convs", "layers": [{"channels": 16, "kernel": 3, "stride": 4}]},
        "stages": [stage, second],
    }


@pytest.mark.parametrize(
    "mixer, path, reason",
    [
        ({"kind": "hmhsa", "grids": [5, None], "heads": 2}, "stages[0].mixer.grids[0]", "5 does not divide the 14x14 map"),
        ({"kind": "hmhsa", "grids": [7, 3], "heads": 2}, "stages[0].mixer.grids[1]", "3 does not divide the 2x2 map"),
        ({"kind": "hmhsa", "grids": [7, None], "pools": [3], "heads": 2}, "stages[0].mixer.pools[0]", "3 does not divide the 14x14 map"),
        ({"kind": "hmhsa", "grids": [7, None], "pools": [7, 1], "heads": 2}, "stages[0].mixer.pools", "needs 1 entries"),
        ({"kind": "hmhsa", "grids": [None, 1], "heads": 2}, "stages[0].mixer.grids[0]", "only the last level"),
        ({"kind": "hmhsa", "grids": [7, None], "heads": 3}, "stages[0].mixer.heads", "3 does not divide 16 channels"),
        ({"kind": "hmhsa", "grids": [7, None], "head_dim": 5}, "stages[0].mixer.head_dim", "5 does not divide 16 channels"),
        ({"kind": "mhsa", "heads": 3}, "stages[0].mixer.heads", "3 does not divide 16 channels"),
    ],
)
def test_bad_genes_are_refused_with_their_path(mixer, path, reason):
    with pytest.raises(GenotypeError) as info:
        genotype_from_dict(genotype(mixer))
    assert info.value.path == path and reason in info.value.reason


def test_tdb_needs_an_even_map():
    with pytest.raises(GenotypeError) as info:
        genotype_from_dict(genotype({"kind": "mhsa", "heads": 2}, image=36))
    assert info.value.path == "stages[1].downsample.kind" and "9x9" in info.value.reason


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_tdb_shape_backward_and_closed_form(pool):
    spec, x, out = TDBDownsample(pool=pool), Shape(8, 6, 4), Shape(16, 3, 2)
    module = build_op(spec, x, out)
    t = torch.randn(1, 8, 6, 4)
    assert module.eval()(t).shape == (1, 16, 3, 2)
    closed = cost_of(spec, x, out)
    assert (closed.params, closed.flops) == fvcore_counts(module, t)
    assert_backward(module, (2, 8, 6, 4))


def test_tdb_sums_a_strided_conv_and_a_pooled_pointwise_conv():
    module = build_op(TDBDownsample(norm="none", act="none"), Shape(4, 4, 4), Shape(8, 2, 2))
    x = torch.randn(1, 4, 4, 4)
    expected = F.conv2d(x, module.conv.weight, module.conv.bias, 2, 1) + F.conv2d(F.max_pool2d(x, 2), module.pool_conv.weight, module.pool_conv.bias)
    torch.testing.assert_close(module(x), expected)


def test_small_network_analytic_equals_fvcore():
    g = genotype_from_dict(genotype({"kind": "hmhsa", "grids": [7, None], "heads": 2, "input_norm": True, "level_norm": True}))
    counts = count_model(archspace.build(g), g.image_size)
    total = analytic_cost(g).total
    assert (total.params, total.flops) == (counts.params, counts.flops)


@pytest.mark.parametrize("name", ["transcnn_small", "transcnn_base"])
def test_genotype_params_match_the_paper(name):
    g = archspace.load_genotype(GENOTYPES / f"{name}.json")
    params = sum(p.numel() for p in archspace.build(g).parameters())
    assert params == analytic_cost(g).total.params
    assert abs(params / (g.reference.params_m * 1e6) - 1) < 0.02
    assert json.loads((GENOTYPES / f"{name}.json").read_text())["reference"]["family"] == "TransCNN"


@pytest.mark.parametrize("depths, ratios, readme_m", [((2, 2, 4, 2), (4, 4, 4, 4), 13.32), ((3, 4, 8, 3), (4, 4, 6, 6), 26.54)])
def test_2021_code_models_match_their_readme(depths, ratios, readme_m):
    """The released TransCNN-Tiny/Small at 256: 8x8 grid cells everywhere, average-pooled keys by 8/4/2 (pools gene)."""
    data = json.loads((GENOTYPES / "transcnn_base.json").read_text())
    data["image_size"] = 256
    for stage, depth, ratio, pool in zip(data["stages"], depths, ratios, (8, 4, 2, None)):
        stage["depth"], stage["ffn"]["ratio"] = depth, ratio
        if pool is not None:
            stage["mixer"].update(grids=[8, None], pools=[pool], pooling="avg")
    g = genotype_from_dict(data)
    params = analytic_cost(g).total.params
    assert round(params / 1e6, 2) == readme_m


@pytest.mark.slow
@pytest.mark.parametrize("name", ["transcnn_small", "transcnn_base"])
def test_genotype_flops_match_the_paper(name):
    """The paper's FLOPs leave the attention matrix products out (as HAT-Net's); ours with them removed is within 5%."""
    g = archspace.load_genotype(GENOTYPES / f"{name}.json")
    f = fidelity(g)
    total = analytic_cost(g).total
    assert (total.params, total.flops) == (f.params, f.flops)
    assert abs(f.flops_delta) < 0.05 and abs(f.params_delta) < 0.02
