"""SCSC family (Wang et al.): the SCSC mixer (§3.1, Eq. 1-6) and the published SCSC genotypes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import archspace
from archspace.cost import count_model
from archspace.cost.analytic import analytic_cost
from archspace.errors import GenotypeError
from archspace.genotype.io import genotype_from_dict
from archspace.genotype.specs.blocks import SqueezeExcite
from archspace.genotype.specs.conv import SCSCMixer
from archspace.ops.conv import SCSC
from archspace.ops.registry import build_op
from oputils import assert_backward, assert_op_matches_closed_form, site

GENOTYPES = Path(__file__).resolve().parent.parent / "genotypes"
SE32 = SqueezeExcite(reduction=16, min_channels=32, bias=False)

SITES = [
    (SCSCMixer(kernels=(3, 9, 13), g=4), site(48, 9)),
    (SCSCMixer(kernels=(3, 5), g=2, out_act="gelu", shuffle=True), site(32, 8, out=64, stride=2)),  # ResNet-SCSC first block
    (SCSCMixer(kernels=(3, 7), g=4, se=SE32), site(64, 7, 5, out=64, stride=2)),  # odd map, stride 2
    (SCSCMixer(kernels=(5,), g=1, norm="layernorm", act="relu"), site(16, 6, out=8)),
]


@pytest.mark.parametrize("spec,at", SITES)
def test_shape_and_closed_form(spec: SCSCMixer, at) -> None:
    assert_op_matches_closed_form(spec, at)


@pytest.mark.parametrize("spec,at", SITES[:3])
def test_backward(spec: SCSCMixer, at) -> None:
    assert_backward(build_op(spec, at), (2, at.channels, at.shape.height, at.shape.width))


@pytest.mark.parametrize("norm", ["none", "batchnorm"])
def test_parameter_count_is_the_paper_formula(norm: str) -> None:
    """Eq. 1 C*C/m, Eq. 3 sum_k (C/m)*k^2 (depthwise), SEM (C/m)*m*g, Eq. 6 (C/m)*C_out; a norm adds 2 per channel."""
    c, c_out, kernels, g = 96, 192, (3, 9, 13), 4
    m, r = len(kernels), c // len(kernels)
    expected = c * r + sum(r * k * k for k in kernels) + r * m * g + r * c_out
    if norm != "none":
        expected += 2 * (r + m * r + c_out)
    module = build_op(SCSCMixer(kernels=kernels, g=g, norm=norm), site(c, 8, out=c_out))
    assert sum(p.numel() for p in module.parameters()) == expected


def _fusion_reference(xs: torch.Tensor, gate: torch.Tensor, m: int, g: int, shuffle: bool) -> torch.Tensor:
    """Eq. 5 written out: output channel (group a, index j) at a pixel = sum_i gate[i*g + a] * xs[branch i, a*(r/g) + j]."""
    n, _, h, w = xs.shape
    r = xs.shape[1] // m
    if shuffle:  # official channel shuffle: channel q*m + i moves to i*r + q
        xs = torch.stack([xs[:, q * m + i] for i in range(m) for q in range(r)], dim=1)
    out = torch.zeros(n, r, h, w)
    for a in range(g):
        for j in range(r // g):
            c = a * (r // g) + j
            for i in range(m):
                out[:, c] += gate[:, i * g + a] * xs[:, i * r + c]
    return out


@pytest.mark.parametrize("shuffle", [False, True])
def test_fusion_follows_eq5_per_pixel_and_group(shuffle: bool) -> None:
    """The matmul fusion equals Eq. 5 written out element by element (a wrong reshape would mix groups or branches)."""
    module = SCSC(24, 24, (3, 5, 7), g=2, norm="none", act="none", shuffle=shuffle).eval()
    x = torch.randn(2, 24, 5, 6)
    with torch.no_grad():
        xd = module.reduce(x)
        xs = torch.cat([b(xd) for b in module.branches], dim=1)
        expected = module.recover(_fusion_reference(xs, torch.sigmoid(module.embed(xd)), 3, 2, shuffle))
        torch.testing.assert_close(module(x), expected, rtol=1e-5, atol=1e-5)


def test_one_kernel_g1_is_a_gated_1x1_dw_1x1_sandwich() -> None:
    """m = 1, g = 1: SCSC is 1x1 -> KxK depthwise -> 1x1 with a per-pixel sigmoid gate; a zero SEM gives a 0.5 gate."""
    c, k = 16, 5
    module = SCSC(c, c, (k,), g=1, norm="none", act="none").eval()
    sandwich = nn.Sequential(
        nn.Conv2d(c, c, 1, bias=False), nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False)
    ).eval()
    with torch.no_grad():
        sandwich[0].weight.copy_(module.reduce[0].weight)
        sandwich[1].weight.copy_(module.branches[0].weight)
        sandwich[2].weight.copy_(module.recover[0].weight)
        x = torch.randn(2, c, 7, 7)
        gate = torch.sigmoid(module.embed(module.reduce(x)))  # N x 1 x H x W
        gated = module.recover(sandwich[1](sandwich[0](x)) * gate)
        torch.testing.assert_close(module(x), gated, rtol=1e-5, atol=1e-5)
        module.embed.weight.zero_()
        torch.testing.assert_close(module(x), 0.5 * sandwich(x), rtol=1e-5, atol=1e-5)


def _swin_dict() -> dict:
    return json.loads((GENOTYPES / "swin_t_scsc.json").read_text())


def test_even_kernel_is_refused_with_its_path() -> None:
    data = _swin_dict()
    data["stages"][0]["mixer"]["kernels"] = [3, 10]
    with pytest.raises(GenotypeError) as err:
        genotype_from_dict(data)
    assert err.value.path.startswith("stages[0].mixer.kernels")
    assert "odd" in err.value.reason


@pytest.mark.parametrize(
    "mixer,field",
    [
        ({"kernels": [3, 5, 7, 9, 11]}, "stages[0].mixer.kernels"),  # 5 kernels do not divide 96 channels
        ({"kernels": [3, 5], "g": 5}, "stages[0].mixer.g"),  # 5 does not divide 48 reduced channels
        ({"kernels": []}, "stages[0].mixer.kernels"),
    ],
)
def test_bad_genes_are_refused(mixer: dict, field: str) -> None:
    data = _swin_dict()
    data["stages"][0]["mixer"].update(mixer)
    with pytest.raises(GenotypeError) as err:
        genotype_from_dict(data)
    assert err.value.path == field


# (params M, FLOPs G) of SCSC paper Table 2; tolerance on each.
PUBLISHED = ["resnet50_scsc_v1", "resnet50_scsc_v2", "resnet50_scsc_v3", "swin_t_scsc", "convnext_t_scsc"]
FLOPS_TOLERANCE = {"resnet50_scsc_v1": 0.06}  # paper's 1.7 G looks rounded down; see the genotype's notes


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_genotype_costs_match_the_paper(name: str) -> None:
    g = archspace.load_genotype(GENOTYPES / f"{name}.json")
    cost = analytic_cost(g).total
    assert abs(cost.params / 1e6 / g.reference.params_m - 1) <= 0.05
    assert abs(cost.flops / 1e9 / g.reference.flops_g - 1) <= FLOPS_TOLERANCE.get(name, 0.05)


@pytest.mark.slow
@pytest.mark.parametrize("name", PUBLISHED + ["swin_t_scsc_official"])
def test_published_genotype_builds_and_closed_form_equals_fvcore(name: str) -> None:
    g = archspace.load_genotype(GENOTYPES / f"{name}.json")
    model = archspace.build(g)
    counts = count_model(model, g.image_size)
    cost = analytic_cost(g).total
    assert (cost.params, cost.flops) == (counts.params, counts.flops)
    assert not counts.uncounted_ops
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 1000)
