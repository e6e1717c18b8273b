"""The torch-free path: validate / schema / plan never import torch; timm still sees the zoo; plan; schema; analytic zoo."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from archspace.cli import main
from archspace.cost.analytic import analytic_cost
from archspace.fidelity import fidelity
from archspace.zoo import zoo_genotype

NO_TORCH = "import sys; from archspace.cli import main; rc = main(sys.argv[1:]); assert 'torch' not in sys.modules, 'imported torch'; sys.exit(rc)"


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


@pytest.mark.parametrize("args", [["validate", "genotypes/swin_t.json", "genotypes/transcnn_small.json"], ["schema"], ["plan", "genotypes/u_pvt_tiny.json"]])
def test_fast_commands_do_not_import_torch(args):
    result = python(NO_TORCH, *args)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("order", ["import archspace, timm", "import timm, archspace"])
def test_timm_sees_the_zoo_whichever_is_imported_first(order):
    result = python(f"{order}; assert timm.is_model('archspace_swin_t'); assert 'archspace_transcnn_small' in timm.list_models('archspace_*')")
    assert result.returncode == 0, result.stderr


def test_plan_rows_sum_to_the_analytic_cost(capsys):
    assert main(["plan", "genotypes/transcnn_small.json", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    total = analytic_cost(zoo_genotype("transcnn_small")).total
    assert (data["params"], data["flops"]) == (total.params, total.flops)
    assert data["error"] is None and data["genotype"]["stages"][1]["downsample"]["kind"] == "tdb"
    blocks = [r for r in data["rows"] if ".blocks[" in r["where"]]
    assert len(blocks) == 8 and blocks[0]["input"] == "64x56x56" and blocks[-1]["output"] == "512x7x7"


def test_plan_at_another_size_shows_its_maps(capsys):
    assert main(["plan", "genotypes/transcnn_small.json", "--img-size", "800x1216", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows[0]["output"] == "64x200x304" and rows[-2]["output"] == "512x25x38"


def test_plan_of_an_invalid_genotype_marks_the_field_after_the_maps_before_it(tmp_path, capsys):
    data = json.load(open("genotypes/swin_t.json"))
    data["stages"][2]["mixer"]["window"] = 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert main(["plan", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["error_path"] == "stages[2].mixer.window" and "5 does not divide the 14x14 map" in out["error"]
    wheres = [r["where"] for r in out["rows"]]
    assert wheres[:2] == ["stem", "stages[0].downsample"] and "stages[1].blocks[1]" in wheres
    assert wheres[-2:] == ["stages[2].downsample", "stages[2].blocks[0]"] and out["rows"][-1]["input"] == "384x14x14"
    assert captured.err.count("\n") == 1 and "stages[2].mixer.window" in captured.err
    assert main(["plan", str(bad)]) == 2
    assert "✗ stages[2].mixer.window" in capsys.readouterr().out


def test_schema_shows_defaults_divisibility_and_map_tied_genes(capsys):
    assert main(["schema"]) == 0
    defs = json.loads(capsys.readouterr().out)["$defs"]
    stage = defs["Stage"]["properties"]
    assert stage["downsample"]["default"]["kind"] == "none" and stage["block"]["default"]["kind"] == "metaformer"
    assert "divide the reduced width C_in / m" in defs["SCSCMixer"]["properties"]["g"]["description"]
    assert "attention share" in defs["DMixer"]["properties"]["heads"]["description"]
    assert "split the hidden width" in defs["MSFFN"]["properties"]["scales"]["description"]
    cells = {(k, g) for k, d in defs.items() for g, p in d.get("properties", {}).items() if p.get("map_tied") == "cell_size"}
    assert {("SwinMixer", "window"), ("HaloMixer", "block"), ("ContMixer", "patches"), ("HMHSAMixer", "grids")} <= cells
    assert defs["DMixer"]["properties"]["pos_bias"]["map_tied"] == "token_count"


@pytest.mark.parametrize("name", ["transcnn_small", "u_internimage_micro", "contnet_ti", "u_pvt_tiny"])
def test_analytic_zoo_row_equals_fvcore_under_the_papers_convention(name):
    genotype = zoo_genotype(name)
    assert genotype.reference.excludes, "pick a genotype whose paper leaves something out"
    ours, traced = fidelity(genotype), fidelity(genotype, "fvcore")
    assert (ours.params, ours.flops) == (traced.params, traced.flops)
    assert (ours.params_paper_convention, ours.flops_paper_convention) == (traced.params_paper_convention, traced.flops_paper_convention)
    assert ours.flops_paper_convention < ours.flops or ours.params_paper_convention < ours.params
