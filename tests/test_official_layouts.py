"""Official state_dict layouts (key -> shape, gathered from the official code by benchmarks/official_equivalence.py
--write-fixtures) map onto our genotypes tensor for tensor: every official key lands on a parameter or buffer of ours
with the same shape, and every tensor of ours is filled. Values are checked by the benchmark against the official code."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import archspace
from archspace.errors import ArchspaceError
from archspace.weights import convert_state_dict, family_for, load_checkpoint_state_dict
from archspace.weights.families import dcn_points_transposed, stm_kv
from archspace.zoo import zoo_genotype, zoo_names

FIXTURES = Path(__file__).parent / "fixtures" / "official_layouts"
ALL = sorted(p.stem for p in FIXTURES.glob("*.json"))
FAST = ["transxnet_t", "u_halonet_micro", "u_internimage_micro", "u_swin_micro", "contnet_ti", "resnet50_scsc_v3_official", "swin_t_scsc_official", "pvt_v2_b2"]


def _layout(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _meta_checkpoint(layout: dict) -> dict[str, torch.Tensor]:
    return {k: torch.empty(shape, device="meta") for k, shape in layout["state_dict"].items()}


def _meta_model(name: str) -> torch.nn.Module:
    with torch.device("meta"):
        return archspace.build(zoo_genotype(name))


def assert_layout_maps(name: str) -> None:
    layout = _layout(name)
    assert zoo_genotype(name).reference.official.converter == layout["converter"]
    model = _meta_model(name)
    ours = model.state_dict()
    converted = convert_state_dict(family_for(layout["converter"]), _meta_checkpoint(layout), model)  # raises on any misfit
    assert set(converted) == set(ours)
    assert all(converted[k].shape == ours[k].shape for k in ours)


@pytest.mark.parametrize("name", FAST)
def test_official_layout_maps_onto_ours(name):
    assert_layout_maps(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(ALL) - set(FAST)))
def test_every_official_layout_maps_onto_ours(name):
    assert_layout_maps(name)


def test_every_genotype_with_official_code_has_a_fixture():
    with_code = {n for n in zoo_names() if (ref := zoo_genotype(n).reference) and ref.official and ref.official.converter}
    assert with_code == set(ALL)
    without = {n for n in zoo_names() if n not in with_code}
    assert all(zoo_genotype(n).reference.official.note for n in without), "genotypes without official code say why"


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda sd: sd.pop("network.0.0.layer_scale_1.bias"), "missing key"),
        (lambda sd: sd.update({"network.0.0.extra.weight": torch.empty(3, device="meta")}), "unexpected key"),
        (lambda sd: sd.update({"network.0.0.norm1.weight": torch.empty(47, device="meta")}), "shape mismatch"),
        (lambda sd: sd.update({"classifier.2.bias": torch.empty(10, device="meta")}), "shape mismatch"),
    ],
)
def test_one_tensor_off_is_refused_in_one_line(edit, reason):
    sd = _meta_checkpoint(_layout("transxnet_t"))
    edit(sd)
    with pytest.raises(ArchspaceError) as err:
        convert_state_dict(family_for("official-transxnet"), sd, _meta_model("transxnet_t"))
    assert reason in str(err.value) and "\n" not in str(err.value)


def test_wrong_family_is_refused():
    with pytest.raises(ArchspaceError, match="unexpected key"):
        convert_state_dict(family_for("official-stm"), _meta_checkpoint(_layout("transxnet_t")), _meta_model("transxnet_t"))
    with pytest.raises(ArchspaceError, match="unknown family"):
        family_for("official-nope")


def test_new_classifier_may_be_left_out():
    sd = _meta_checkpoint(_layout("transxnet_t"))
    with torch.device("meta"):
        model = archspace.build(zoo_genotype("transxnet_t"), num_classes=10)
    out = convert_state_dict(family_for("official-transxnet"), sd, model, new_classifier="head.fc.")
    assert set(out) == set(model.state_dict()) - {"head.fc.weight", "head.fc.bias"}


def test_u_halonet_official_tables_carry_rows_no_offset_reads():
    """The U-HaloNet parameter gap: each official height_rel/width_rel has 2(b+2h)-1 rows, ours 2(b+h)-1 (b=7, h=3):
    the 2h leading rows are never read by the forward, and are all the difference."""
    layout = _layout("u_halonet_micro")["state_dict"]
    model = _meta_model("u_halonet_micro")
    tables = {k: s for k, s in layout.items() if k.endswith(("height_rel", "width_rel"))}
    ours = model.state_dict()
    gap = sum((s[0] - ours[_target(k)].shape[0]) * s[1] for k, s in tables.items())
    assert {s[0] for s in tables.values()} == {25} and gap == 5_760  # issue 12: official 4,389,672 vs ours 4,383,912


def _target(key: str) -> str:
    stage, block = key.split(".")[1:3]
    return f"stages.{stage}.blocks.{block}.mixer.{'rel_row' if key.endswith('height_rel') else 'rel_col'}"


def test_halo_kv_becomes_k_first():
    """Official HaloAttn kv rows run [head][k|v][d]; ours [k|v][head][d]."""
    model = archspace.build(zoo_genotype("u_halonet_micro"))
    key = "stages.1.blocks.0.mixer.kv.weight"  # 2 heads, d = 32
    rows = torch.arange(128.0)[:, None, None, None].expand(128, 64, 1, 1)
    out = stm_kv(rows, model.state_dict()[key].shape, model, key)[:, 0, 0, 0]
    head, kv, d = 2, 2, 32
    expected = torch.arange(128.0).reshape(head, kv, d).transpose(0, 1).flatten()
    torch.testing.assert_close(out, expected)


def test_dcn_points_transpose():
    """STM DCNv3 point i*K+j is our point j*K+i (per group; the (x, y) pair stays together)."""
    model = archspace.build(zoo_genotype("u_internimage_micro"))
    key = "stages.0.blocks.0.mixer.offset.bias"
    g = model.get_submodule("stages.0.blocks.0.mixer").groups
    official = torch.arange(g * 9 * 2.0)
    out = dcn_points_transposed(official, model.state_dict()[key].shape, model, key).reshape(g, 3, 3, 2)
    torch.testing.assert_close(out[0, 0, 1], official.reshape(g, 3, 3, 2)[0, 1, 0])


def test_checkpoint_wrappers_and_bad_files(tmp_path):
    sd = {"a": torch.ones(2)}
    for wrapper in ("state_dict", "model"):
        torch.save({wrapper: sd, "epoch": 3}, tmp_path / f"{wrapper}.pth")
        assert load_checkpoint_state_dict(tmp_path / f"{wrapper}.pth").keys() == {"a"}
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(ArchspaceError, match="not a readable torch checkpoint"):
        load_checkpoint_state_dict(tmp_path / "junk.pth")
    with pytest.raises(ArchspaceError, match="is not a file"):
        load_checkpoint_state_dict(tmp_path / "missing.pth")


def _timm_resnet50_checkpoint(path: Path) -> torch.nn.Module:
    """timm's resnet50 stands in for an official code base the tests can hold (timm is a dependency)."""
    import timm

    theirs = timm.create_model("resnet50").eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_(0, 0.05)
    torch.save({"state_dict": theirs.state_dict(), "epoch": 1}, path)
    return theirs


def test_convert_weights_cli_end_to_end(tmp_path):
    """A checkpoint of the other code converts, loads strictly, and gives its outputs; a broken one exits 2 in one line."""
    import subprocess
    import sys

    theirs = _timm_resnet50_checkpoint(tmp_path / "official.pth")
    out = tmp_path / "ours.pth"
    cmd = [sys.executable, "-m", "archspace.cli", "convert-weights", str(tmp_path / "official.pth"), "--from", "timm",
           "--genotype", "genotypes/resnet50.json", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ours = archspace.build(archspace.load_genotype("genotypes/resnet50.json")).eval()
    ours.load_state_dict(torch.load(out))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 2 and "exists" in again.stderr  # nothing already saved is lost
    broken = theirs.state_dict()
    broken.pop("layer3.2.bn2.running_var")
    torch.save(broken, tmp_path / "broken.pth")
    cmd[4], cmd[-1] = str(tmp_path / "broken.pth"), str(tmp_path / "x.pth")
    bad = subprocess.run(cmd, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "stages.2.blocks.2.norm2.running_var" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "x.pth").exists()


def test_timm_pretrained_overlay_converts_and_keeps_a_new_head(tmp_path):
    import timm

    from archspace.timm_models import register_zoo

    register_zoo()
    theirs = _timm_resnet50_checkpoint(tmp_path / "official.pth")
    ours = timm.create_model("archspace_resnet50", pretrained=True, pretrained_cfg_overlay=dict(file=str(tmp_path / "official.pth"))).eval()
    tuned = timm.create_model("archspace_resnet50", pretrained=True, num_classes=7, pretrained_cfg_overlay=dict(file=str(tmp_path / "official.pth"))).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))
        torch.testing.assert_close(tuned.forward_features(x), theirs.forward_features(x))
    assert tuned(x).shape == (1, 7)
