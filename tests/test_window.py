"""Window family: Swin shifted-window attention, halo attention, and the STM-evaluation unified genotypes."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from oputils import assert_backward, assert_op_matches_closed_form, site

import archspace
from archspace.cost.analytic import analytic_cost, cost_of
from archspace.errors import GenotypeError
from archspace.genotype.base import Site
from archspace.genotype.io import genotype_from_dict
from archspace.genotype.specs.conv import DWConvMixer
from archspace.genotype.specs.window import HaloMixer, SwinMixer
from archspace.ops.registry import build_op

GENOTYPES = Path(__file__).resolve().parents[1] / "genotypes"
UNIFIED = [f"u_{kind}_{scale}" for kind in ("swin", "halonet", "dwconv") for scale in ("micro", "tiny", "small", "base")]


def at(channels: int, h: int, w: int, index: int = 0) -> Site:
    s = site(channels, h, w)
    return Site(s.shape, s.out_channels, index=index)


# --- Swin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, h, w, index",
    [
        (SwinMixer(heads=2, window=4), 8, 12, 0),
        (SwinMixer(heads=2, window=4), 8, 12, 1),
        (SwinMixer(heads=4, window=7), 7, 14, 1),  # clamped rows, shifted columns
        (SwinMixer(heads=2, window=8, qkv_bias=False, rel_pos_bias=False), 4, 16, 1),
        (SwinMixer(heads=1, window=4, shift="none"), 8, 8, 1),
    ],
)
def test_swin_shape_backward_and_closed_form(spec, h, w, index):
    spec.check(at(16, h, w, index))
    module = assert_op_matches_closed_form(spec, at(16, h, w, index))
    assert_backward(module, (2, 16, h, w))


def test_swin_window_clamp_and_shift_follow_timm():
    spec = SwinMixer(heads=1, window=7)
    assert spec.window_at(at(8, 56, 56, 1)) == ((7, 7), (3, 3))
    assert spec.window_at(at(8, 56, 56, 2)) == ((7, 7), (0, 0))
    assert spec.window_at(at(8, 7, 7, 1)) == ((7, 7), (0, 0))  # map == window: one window, no shift
    assert spec.window_at(at(8, 4, 14, 1)) == ((4, 7), (0, 3))  # map < window: clamped, that side unshifted


def _mhsa_with_bias(module, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Plain global MHSA over all tokens with an additive (heads, N, N) bias, same weights as `module`."""
    b, c, h, w = x.shape
    heads = module.heads
    tokens = x.flatten(2).transpose(1, 2)  # B N C
    q, k, v = module.qkv(tokens).view(b, h * w, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    attn = (q @ k.transpose(-2, -1)) * (c // heads) ** -0.5 + bias
    out = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, h * w, c)
    return module.proj(out).transpose(1, 2).reshape(b, c, h, w)


def test_swin_single_unshifted_window_is_mhsa_with_relative_bias():
    module = build_op(SwinMixer(heads=2, window=4), at(16, 4, 4, 0)).eval()
    assert module.shift == (0, 0)
    rows, cols = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    dr = rows.flatten()[:, None] - rows.flatten()[None, :] + 3
    dc = cols.flatten()[:, None] - cols.flatten()[None, :] + 3
    bias = module.rel_pos[dr * 7 + dc].permute(2, 0, 1)  # table row = (dy + 3) * 7 + (dx + 3)
    x = torch.randn(2, 16, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(module(x), _mhsa_with_bias(module, x, bias), rtol=1e-5, atol=1e-5)


def _dependence(module, x: torch.Tensor, out: tuple[int, int], src: tuple[int, int]) -> float:
    """|d output[out] / d input[src]|: how much one token's output depends on another token's input."""
    x = x.clone().requires_grad_(True)
    module(x)[0, :, out[0], out[1]].sum().backward()
    return x.grad[0, :, src[0], src[1]].abs().sum().item()


def test_swin_shift_moves_windows_and_masks_the_wrap():
    spec, x = SwinMixer(heads=2, window=4), torch.randn(1, 16, 8, 8)
    plain, shifted = build_op(spec, at(16, 8, 8, 0)).eval(), build_op(spec, at(16, 8, 8, 1)).eval()
    assert shifted.shift == (2, 2)
    # unshifted windows are rows/cols 0-3 and 4-7; shifted ones are 2-5 (and the wrapped 6-7 + 0-1)
    assert _dependence(plain, x, (2, 2), (5, 5)) == 0
    assert _dependence(shifted, x, (2, 2), (5, 5)) > 0
    # (0, 0) and (7, 7) share the wrapped window after the roll, but lie on opposite sides of the wrap
    assert _dependence(shifted, x, (0, 0), (7, 7)) == 0
    assert _dependence(shifted, x, (0, 0), (1, 1)) > 0
    assert _dependence(shifted, x, (7, 7), (6, 6)) > 0


# --- Halo ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, h, w",
    [
        (HaloMixer(heads=2, block=4, halo=1), 8, 12),
        (HaloMixer(heads=4, block=4, halo=0), 8, 8),
        (HaloMixer(heads=2, block=4, halo=2, qkv_bias=True), 8, 4),
        (HaloMixer(heads=2, block=7, halo=3), 7, 14),
        (HaloMixer(heads=1, block=8, halo=1), 4, 8),  # block clamped to 4x8
    ],
)
def test_halo_shape_backward_and_closed_form(spec, h, w):
    spec.check(at(16, h, w))
    module = assert_op_matches_closed_form(spec, at(16, h, w))
    assert_backward(module, (2, 16, h, w))


def _global_attention_with_relative_embeddings(module, x: torch.Tensor) -> torch.Tensor:
    """Global attention over the whole map with logits q.k + q.(r_row[dy] + r_col[dx]), same weights as `module`."""
    b, c, h, w = x.shape
    heads, d = module.heads, c // module.heads
    q = module.q(x).view(b, heads, d, h * w).transpose(-2, -1) * d**-0.5
    k, v = module.kv(x).view(b, 2, heads, d, h * w).transpose(-2, -1).unbind(1)
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    dy = rows.flatten()[None, :] - rows.flatten()[:, None]  # key row - query row
    dx = cols.flatten()[None, :] - cols.flatten()[:, None]
    r = module.rel_row[dy + (module.rel_row.shape[0] - 1) // 2] + module.rel_col[dx + (module.rel_col.shape[0] - 1) // 2]
    logits = q @ k.transpose(-2, -1) + torch.einsum("bhqd,qkd->bhqk", q, r)
    out = (logits.softmax(-1) @ v).transpose(-2, -1).reshape(b, c, h, w)
    return module.proj(out)


@pytest.mark.parametrize("halo", [0, 2])
def test_halo_with_one_block_is_global_attention_with_relative_embeddings(halo):
    module = build_op(HaloMixer(heads=2, block=6, halo=halo), at(16, 6, 6)).eval()
    x = torch.randn(2, 16, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(module(x), _global_attention_with_relative_embeddings(module, x), rtol=1e-5, atol=1e-5)


def test_halo_reaches_exactly_the_halo():
    module = build_op(HaloMixer(heads=2, block=4, halo=1), at(16, 8, 8)).eval()
    x = torch.randn(1, 16, 8, 8)
    assert _dependence(module, x, (0, 0), (4, 4)) > 0  # one pixel into the next block: inside the halo
    assert _dependence(module, x, (0, 0), (5, 5)) == 0  # two pixels in: outside


# --- validation ---------------------------------------------------------------------------------


def _unified(mixer: dict, image_size: int = 224) -> dict:
    """u_swin_micro with every stage's mixer genes overridden (a new kind keeps only the heads)."""
    g = json.loads((GENOTYPES / "u_swin_micro.json").read_text())
    g["image_size"] = image_size
    for stage in g["stages"]:
        base = stage["mixer"] if "kind" not in mixer else {"heads": stage["mixer"]["heads"]}
        stage["mixer"] = {**base, **mixer}
    return g


@pytest.mark.parametrize(
    "mixer, path, reason",
    [
        ({"window": 5}, "stages[0].mixer.window", "5 does not divide the 56x56 map"),
        ({"kind": "halo", "block": 5, "halo": 1}, "stages[0].mixer.block", "5 does not divide the 56x56 map"),
        ({"heads": 3}, "stages[0].mixer.heads", "3 does not divide 32 channels"),
    ],
)
def test_bad_genes_are_refused_with_their_field(mixer, path, reason):
    with pytest.raises(GenotypeError) as err:
        genotype_from_dict(_unified(mixer))
    assert err.value.path == path and reason in err.value.reason


def test_small_proxy_maps_clamp_the_window():
    g = genotype_from_dict(_unified({}, image_size=112))  # stage 4 map 4x4 < window 7
    assert archspace.build(g)(torch.randn(1, 3, 112, 112)).shape == (1, 1000)


# --- genotypes ----------------------------------------------------------------------------------


def test_dwconv_projections_closed_form():
    spec = DWConvMixer(kernel=7, proj=True)
    assert_op_matches_closed_form(spec, at(8, 8, 8))
    assert cost_of(spec, at(8, 8, 8)).params == cost_of(DWConvMixer(kernel=7), at(8, 8, 8)).params + 2 * (8 * 8 + 8)


def test_swin_t_has_timm_parameter_count():
    timm = pytest.importorskip("timm")
    reference = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False)
    g = archspace.load_genotype(GENOTYPES / "swin_t.json")
    assert analytic_cost(g).total.params == sum(p.numel() for p in reference.parameters()) == 28_288_354


@pytest.mark.parametrize("name", UNIFIED)
def test_unified_params_match_the_paper(name):
    g = archspace.load_genotype(GENOTYPES / f"{name}.json")
    assert abs(analytic_cost(g).total.params / 1e6 / g.reference.params_m - 1) < 0.02


@pytest.mark.slow
def test_swin_t_computes_what_timm_computes():
    os.environ["TIMM_FUSED_ATTN"] = "0"
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    reference = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False).eval()
    for p in reference.parameters():
        p.data.normal_(0, 0.05)
    ours = archspace.build(archspace.load_genotype(GENOTYPES / "swin_t.json")).eval()
    ours.load_state_dict({k: v.reshape(mine.shape) for (k, mine), v in zip(ours.state_dict().items(), reference.state_dict().values())})
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-3, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["swin_t", *UNIFIED])
def test_genotype_fidelity(name):
    from archspace.cost import count_model

    g = archspace.load_genotype(GENOTYPES / f"{name}.json")
    counts = count_model(archspace.build(g), g.image_size)
    closed = analytic_cost(g).total
    assert (closed.params, closed.flops) == (counts.params, counts.flops)
    flops = counts.flops
    if "attention_matmul" in g.reference.excludes:
        from archspace.fidelity import EXCLUDED_OPERATORS

        flops -= sum(counts.operator_flops.get(op, 0) for op in EXCLUDED_OPERATORS["attention_matmul"])
    assert abs(counts.params / 1e6 / g.reference.params_m - 1) < (0.02 if name != "swin_t" else 0.011)
    assert abs(flops / 1e9 / g.reference.flops_g - 1) < 0.05
