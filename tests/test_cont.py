"""ConTNet family: patch-wise encoder (mixer), ConT block, the four published genotypes."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import archspace
from archspace.cost import count_model
from archspace.cost.analytic import analytic_cost
from archspace.cost.analytic.families.cont import attention_matmuls
from archspace.errors import GenotypeError
from archspace.genotype.io import genotype_from_dict
from archspace.genotype.plan import plan
from archspace.genotype.specs.cont import ContMixer
from archspace.ops.cont import PatchEncoder
from oputils import assert_backward, assert_op_matches_closed_form, site

GENOTYPES = Path(__file__).resolve().parent.parent / "genotypes"


def _stage(channels: int, out: int, patches: list[int], last: dict | None = None, depth: int = 2) -> dict:
    return {
        "depth": depth,
        "channels": channels,
        "block": {"kind": "cont", "out_channels": out, **(last or {})},
        "mixer": {"kind": "cont", "patches": patches, "heads": 2, "mlp_hidden": 3 * channels},
        "norm": "batchnorm",
        "act": "relu",
    }


def tiny(patches0: list[int] | None = None, **overrides) -> dict:
    """A two-stage ConTNet at 32 px: 8x8 then 4x4 maps, the last stage widening with a 1x1 conv."""
    return {
        "name": "tiny_cont",
        "image_size": 32,
        "num_classes": 10,
        "stem": {"kind": "resnet", "channels": 8, "norm": "none", "act": "none"},
        "stages": [_stage(8, 16, patches0 or [2, 4]), _stage(16, 32, [2, 4], {"last_stride": 1, "last_kernel": 1})],
        **overrides,
    }


@pytest.mark.parametrize(
    "spec",
    [
        ContMixer(patches=(2, 4), heads=2, mlp_hidden=12),
        ContMixer(patches=(8,), heads=4, pos_embed="full", qkv_bias=False),
        ContMixer(patches=(4, 4, 2), pos_embed="none", mlp_ratio=2.0),
    ],
)
def test_mixer_shape_and_closed_form(spec: ContMixer) -> None:
    assert_op_matches_closed_form(spec, site(8, 8))


def test_mixer_backward() -> None:
    module = assert_op_matches_closed_form(ContMixer(patches=(2, 4), heads=2), site(8, 8))
    assert_backward(module, (2, 8, 8, 8))


def test_whole_map_patch_is_a_post_norm_transformer_layer() -> None:
    """P = H = W: the encoder is a standard post-norm encoder layer (Vaswani et al.) over all HW tokens."""
    c, heads, hidden, hw = 16, 4, 40, 6
    ours = PatchEncoder(c, hw, heads, hidden, pos_embed="none").eval()
    ref = nn.TransformerEncoderLayer(c, heads, hidden, dropout=0.0, activation="gelu", batch_first=True, norm_first=False).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_()
        ref.self_attn.in_proj_weight.copy_(ours.attn.qkv.weight)
        ref.self_attn.in_proj_bias.copy_(ours.attn.qkv.bias)
        ref.self_attn.out_proj.weight.copy_(ours.attn.proj.weight)
        ref.self_attn.out_proj.bias.copy_(ours.attn.proj.bias)
        for mine, theirs in ((ours.mlp.fc1, ref.linear1), (ours.mlp.fc2, ref.linear2), (ours.norm1, ref.norm1), (ours.norm2, ref.norm2)):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
        x = torch.randn(2, c, hw, hw)
        expected = ref(x.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(2, c, hw, hw)
        torch.testing.assert_close(ours(x), expected, rtol=1e-4, atol=1e-4)


def test_patches_are_independent_and_share_weights() -> None:
    """Perturbing one patch changes only that patch; moving content by one patch moves the output with it."""
    enc = PatchEncoder(8, 4, 2, 16).eval()
    with torch.no_grad():
        enc.pe_h.normal_()
        enc.pe_w.normal_()
        x = torch.randn(1, 8, 8, 12)
        y = enc(x)
        x2 = x.clone()
        x2[..., 4:8, 8:12] += torch.randn(1, 8, 4, 4)
        changed = (enc(x2) - y).abs().amax(dim=1)[0] > 1e-6
        assert changed[4:8, 8:12].all() and changed.sum() == 16
        torch.testing.assert_close(enc(torch.roll(x, 4, dims=3)), torch.roll(y, 4, dims=3))


def test_split_position_encoding_rows_then_columns() -> None:
    """Official split PE: the first half of the channels varies with the patch row only, the second half with the column."""
    enc = PatchEncoder(4, 3, 1, 8)
    with torch.no_grad():
        enc.pe_h.normal_()
        enc.pe_w.normal_()
        pe = enc._position()
    assert pe.shape == (3, 3, 4) and sum(p.numel() for p in (enc.pe_h, enc.pe_w)) == 3 * 4
    torch.testing.assert_close(pe[:, 0, :2], pe[:, 2, :2])
    torch.testing.assert_close(pe[0, :, 2:], pe[2, :, 2:])


def test_network_shapes_backward_and_closed_form() -> None:
    g = genotype_from_dict(tiny())
    p = plan(g)
    assert [s.output.resolution for s in p.stages] == [(4, 4), (4, 4)]
    assert [s.output.channels for s in p.stages] == [16, 32]
    model = archspace.build(g)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert_backward(model, (2, 3, 32, 32))
    counts, closed = count_model(model, 32), analytic_cost(g).total
    assert (closed.params, closed.flops) == (counts.params, counts.flops)
    matmuls = sum(attention_matmuls(s.mixer, b.mixer).flops for s, sp in zip(g.stages, p.stages) for b in sp.blocks)
    assert matmuls == counts.operator_flops["scaled_dot_product_attention"]


def test_identity_and_projection_shortcuts() -> None:
    model = archspace.build(genotype_from_dict(tiny()))
    first, last = model.stages[0].blocks
    assert first.shortcut is None and isinstance(last.shortcut, nn.Conv2d)
    assert last.shortcut.stride == (2, 2) and last.conv.kernel_size == (3, 3)
    assert model.stages[1].blocks[1].conv.kernel_size == (1, 1) and model.stages[1].blocks[1].shortcut.stride == (1, 1)


@pytest.mark.parametrize(
    "change, path, reason",
    [
        (dict(patches0=[3, 4]), "stages[0].mixer.patches[0]", "3 does not divide the 8x8 map"),
        (dict(patches0=[2, 16]), "stages[0].mixer.patches[1]", "16 does not divide the 8x8 map"),
    ],
)
def test_patch_not_dividing_the_map_is_refused(change: dict, path: str, reason: str) -> None:
    with pytest.raises(GenotypeError) as err:
        genotype_from_dict(tiny(**change))
    assert (err.value.path, err.value.reason) == (path, reason)


def test_patch_valid_in_one_stage_refused_in_the_next() -> None:
    data = tiny()
    data["stages"][1]["mixer"]["patches"] = [8, 4]
    with pytest.raises(GenotypeError, match=r"stages\[1\]\.mixer\.patches\[0\]: 8 does not divide the 4x4 map"):
        genotype_from_dict(data)


@pytest.mark.parametrize(
    "edit, path",
    [
        (lambda d: d["stages"][0]["mixer"].update(heads=3), "stages[0].mixer.heads"),
        (lambda d: d["stages"][0].update(ffn={"kind": "mlp"}), "stages[0].ffn"),
        (lambda d: d["stages"][0]["block"].update(out_channels=24), "stages[1].channels"),
        (lambda d: d["stages"][0]["block"].update(kernel=2), "stages[0].block.kernel"),
    ],
)
def test_bad_genes_refused_with_field(edit, path: str) -> None:
    data = tiny()
    edit(data)
    with pytest.raises(GenotypeError) as err:
        genotype_from_dict(data)
    assert err.value.path == path


PUBLISHED = ("contnet_ti", "contnet_s", "contnet_m", "contnet_b")  # fidelity to the paper: tests/test_zoo.py


@pytest.mark.slow
@pytest.mark.parametrize("name", PUBLISHED)
def test_published_genotypes_closed_form_equals_fvcore(name: str) -> None:
    g = archspace.load_genotype(GENOTYPES / f"{name}.json")
    counts, closed = count_model(archspace.build(g), g.image_size), analytic_cost(g).total
    assert (closed.params, closed.flops) == (counts.params, counts.flops)
