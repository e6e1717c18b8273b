"""Any input size: build at another size, dynamic_img_size, set_input_size, truthful fixed_input_size, grad checkpointing."""
from __future__ import annotations

import pytest
import timm
import torch
from torch.nn import functional as F

import archspace
from archspace.errors import GenotypeError, InputSizeError
from archspace.genotype.base import Shape, Site
from archspace.genotype.specs.hmhsa import HMHSAMixer
from archspace.ops.registry import build_op
from archspace.zoo import zoo_genotype, zoo_names

from archspace.genotype.io import genotype_from_dict

# Zoo families whose genes fit 256 and 320 as published (cell sizes divide the maps there).
STATIC = ["u_pvt_micro", "u_dwconv_micro", "u_internimage_micro", "transcnn_small", "transxnet_t", "resnet50_scsc_v1"]
# Zoo families whose 7-token windows / blocks / patches do not divide 64 or 80: refused when built there, padded when dynamic.
PADDED = ["u_swin_micro", "u_halonet_micro", "contnet_ti"]

MIXERS = {
    "swin": {"kind": "swin", "heads": 2, "window": 7},
    "halo": {"kind": "halo", "heads": 2, "block": 7, "halo": 2},
    "cont": {"kind": "cont", "patches": [7], "heads": 2},
    "hmhsa": {"kind": "hmhsa", "grids": [7, None], "heads": 2},
    "dmixer": {"kind": "dmixer", "heads": 1, "sr_stride": 1},
}


def tiny(mixer: dict, image_size: int = 56, pos_embed: bool = False):
    """Two stages (14x14 then 7x7 at 56 px) around one mixer: the ops of a family at millisecond cost."""
    stage = lambda c: {"depth": 1, "channels": c, "mixer": mixer, "ffn": {"kind": "mlp", "ratio": 2},  # noqa: E731
                       "block": {"kind": "metaformer", "pos_embed": pos_embed}}
    second = {**stage(32), "downsample": {"kind": "patch_merge"}}
    return genotype_from_dict({"name": "tiny", "image_size": image_size, "num_classes": 5,
                               "stem": {"kind": "patchify", "channels": 16, "patch": 4}, "stages": [stage(16), second]})


def run(model: torch.nn.Module, h: int, w: int | None = None) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(torch.randn(1, 3, h, w or h))


@pytest.mark.parametrize("kind", ["hmhsa", "dmixer"])
def test_tiny_build_at_twice_the_size(kind):
    model = archspace.build(tiny(MIXERS[kind]), img_size=112)
    assert run(model, 112).shape == (1, 5) and model.plan.stages[-1].output.resolution == (14, 14)


@pytest.mark.parametrize("kind", ["swin", "halo", "cont", "hmhsa"])
def test_cells_that_do_not_fit_are_refused_when_built_and_in_forward_and_padded_when_dynamic(kind):
    genotype = tiny(MIXERS[kind])
    with pytest.raises(GenotypeError, match=r"^stages\[0\]\.mixer\.\w+(\[0\])?: 7 does not divide the 16x16 map \(at input size 64x64\)$"):
        archspace.build(genotype, img_size=64)
    fixed = archspace.build(genotype).eval()
    with pytest.raises(InputSizeError, match=r"^stages\.0\.blocks\.0\.mixer\S* \(\w+\): got a 16x16 map, accepts sides that are multiples of 7x7"):
        run(fixed, 64)
    dynamic = archspace.build(genotype, dynamic_img_size=True).eval()
    dynamic.load_state_dict(fixed.state_dict())
    x = torch.randn(1, 3, 56, 56)
    with torch.no_grad():
        assert torch.equal(dynamic(x), fixed(x))  # no padding where the cells fit
    for h, w in ((64, 64), (80, 80), (60, 92)):
        assert torch.isfinite(run(dynamic, h, w)).all()


def test_halo_masks_the_padding_it_adds():
    """Dynamic halo attention on a map its blocks do not tile equals the op on the zero-free map: padded keys get no weight."""
    spec = MIXERS["halo"]
    op = archspace.build(tiny(spec), dynamic_img_size=True).stages[0].blocks[0].mixer.eval()
    x = torch.randn(1, 16, 10, 10)
    with torch.no_grad():
        padded = op(x)
        garbage = torch.cat([torch.cat([x, torch.randn(1, 16, 10, 4)], dim=-1), torch.randn(1, 16, 4, 14)], dim=-2)
        masks = op.padding_masks(10, 10)
        op.padding_masks = lambda h, w: masks  # keep the 10x10 masks: positions past 10 are padding
        assert torch.allclose(op(garbage)[..., :10, :10], padded, atol=1e-5)


def test_position_tables_take_only_their_size_unless_dynamic():
    genotype = tiny({"kind": "dwconv", "kernel": 3}, pos_embed=True)
    with pytest.raises(InputSizeError, match=r"stages\.0\.blocks\.0 \(MetaFormer\): got a 16x16 map, accepts only 14x14 \(its absolute position embedding\)"):
        run(archspace.build(genotype), 64)
    with pytest.raises(InputSizeError, match=r"\(DualDynamicMixer\): got a 16x16 map, accepts only 14x14 \(its position bias"):
        run(archspace.build(tiny(MIXERS["dmixer"])), 64)
    assert run(archspace.build(genotype, dynamic_img_size=True), 64, 80).shape == (1, 5)
    assert run(archspace.build(tiny(MIXERS["dmixer"]), dynamic_img_size=True), 64, 80).shape == (1, 5)


@pytest.mark.heavy
@pytest.mark.parametrize("name", STATIC)
@pytest.mark.parametrize("size", [256, 320])
def test_zoo_build_at_another_size(name, size):
    model = archspace.build(zoo_genotype(name), img_size=size, num_classes=7)
    assert run(model, size).shape == (1, 7)
    assert model.plan.stages[-1].output.height == size // model.feature_info[-1]["reduction"]


@pytest.mark.slow
@pytest.mark.parametrize("name", PADDED)
def test_zoo_cells_that_do_not_fit_are_padded_when_dynamic(name):
    genotype = zoo_genotype(name)
    with pytest.raises(GenotypeError, match=r"7 does not divide the 64x64 map \(at input size 256x256\)"):
        archspace.build(genotype, img_size=256)
    dynamic = archspace.build(genotype, dynamic_img_size=True)
    for size in (256, 320):
        assert torch.isfinite(run(dynamic, size)).all()


def test_fixed_input_size_tells_the_truth():
    for name in ("u_dwconv_micro",):  # convolutions only: any size runs
        model = timm.create_model(f"archspace_{name}", num_classes=3)
        assert model.pretrained_cfg["fixed_input_size"] is False and not model.fixed_input_size
        assert run(model, 200, 232).shape == (1, 3)
    for name in ("u_swin_micro", "u_pvt_micro"):
        model = timm.create_model(f"archspace_{name}", num_classes=3)
        assert model.pretrained_cfg["fixed_input_size"] is True
        with pytest.raises(InputSizeError):
            run(model, 240)
        assert timm.create_model(f"archspace_{name}", dynamic_img_size=True).pretrained_cfg["fixed_input_size"] is False


def test_timm_img_size_rebuilds_and_says_so():
    model = timm.create_model("archspace_swin_t", img_size=448, num_classes=5)
    assert model.pretrained_cfg["input_size"] == (3, 448, 448) and model.img_size == (448, 448)
    assert model.stages[0].blocks[1].mixer.window == (7, 7)  # the window keeps its size: 16x16 windows at 448
    with pytest.raises(GenotypeError, match="window: 7 does not divide the 64x64 map"):
        timm.create_model("archspace_swin_t", img_size=256)


def test_hmhsa_grid_cells_keep_their_size_at_another_map():
    """Grids are cell sizes: a change inside one 4x4 cell at 16x16 (built at 8x8) leaves the other cells alone."""
    spec = HMHSAMixer(grids=(4,), heads=2)
    op = build_op(spec, Site(Shape(8, 8, 8), 8)).eval()
    assert op.levels_at(8, 16, 16)[0].windows == (4, 4)
    x = torch.randn(1, 8, 16, 16)
    y = x.clone()
    y[..., :4, :4] += 1
    with torch.no_grad():
        a, b = op(x), op(y)
    assert not torch.allclose(a[..., :4, :4], b[..., :4, :4])
    assert torch.allclose(a[..., 4:, :], b[..., 4:, :]) and torch.allclose(a[..., :, 4:], b[..., :, 4:])


def test_set_input_size_keeps_weights_and_resamples_position_tables():
    model = archspace.build(zoo_genotype("u_pvt_micro"), num_classes=4).eval()
    before = model.stages[0].blocks[0].pos_embed.detach().clone()
    fc = model.head.fc.weight.detach().clone()
    model.set_input_size(256)
    after = model.stages[0].blocks[0].pos_embed
    assert after.shape[-2:] == (64, 64) and model.img_size == (256, 256)
    assert torch.allclose(after, F.interpolate(before, size=(64, 64), mode="bicubic", align_corners=False))
    assert torch.equal(model.head.fc.weight, fc)
    assert run(model, 256).shape == (1, 4)
    with pytest.raises(InputSizeError):
        run(model, 224)


def test_grad_checkpointing_gives_the_same_gradients():
    genotype = tiny(MIXERS["swin"])
    torch.manual_seed(0)
    plain = archspace.build(genotype, num_classes=3)
    ckpt = archspace.build(genotype, num_classes=3)
    ckpt.load_state_dict(plain.state_dict())
    ckpt.set_grad_checkpointing()
    x = torch.randn(2, 3, 56, 56)
    for model in (plain, ckpt):
        model.train()
        model(x).square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-5), name


def test_features_only_at_a_detection_size():
    model = timm.create_model("archspace_u_pvt_micro", features_only=True, img_size=(256, 384))
    feats = run(model, 256, 384)
    for f, info in zip(feats, model.feature_info.get_dicts()):
        assert f.shape[1:] == (info["num_chs"], 256 // info["reduction"], 384 // info["reduction"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["u_swin_micro", "u_halonet_micro", "u_pvt_micro", "u_internimage_micro", "u_dwconv_micro", "transcnn_small", "contnet_ti", "transxnet_t", "resnet50_scsc_v1"])
def test_features_only_at_800x1216(name):
    model = timm.create_model(f"archspace_{name}", features_only=True, dynamic_img_size=True)
    feats = run(model, 800, 1216)
    for f, info in zip(feats, model.feature_info.get_dicts()):
        assert f.shape[1:] == (info["num_chs"], 800 // info["reduction"], 1216 // info["reduction"])


@pytest.mark.heavy
@pytest.mark.parametrize("name", zoo_names())
def test_every_zoo_genotype_gives_features_at_a_non_square_size(name):
    model = timm.create_model(f"archspace_{name}", features_only=True, dynamic_img_size=True)
    feats = run(model, 96, 160)
    assert len(feats) == len(model.feature_info)
    for f, info in zip(feats, model.feature_info.get_dicts()):
        assert f.shape[1:] == (info["num_chs"], 96 // info["reduction"], 160 // info["reduction"])
