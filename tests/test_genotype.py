"""Genotype schema: round-trips, canonical id, migration, and each validation rule's field path."""
from __future__ import annotations

import copy
import json
import sys

import pytest
from pydantic import ValidationError

from archspace import GenotypeError, load_genotype
from archspace.genotype import SCHEMA_VERSION, canonical_json, dump_genotype, genotype_from_dict, json_schema


def convnext_dict(**overrides) -> dict:
    stage = lambda c, ds: {  # noqa: E731
        "depth": 1, "channels": c, "downsample": ds, "block": {"kind": "convnext"},
        "mixer": {"kind": "dwconv", "kernel": 7}, "ffn": {"kind": "mlp", "ratio": 4},
    }
    down = {"kind": "conv", "kernel": 2, "stride": 2, "padding": 0, "norm": "layernorm", "norm_position": "pre"}
    data = {
        "name": "tiny", "image_size": 64,
        "stem": {"kind": "patchify", "channels": 16, "patch": 4},
        "stages": [stage(16, {"kind": "none"}), stage(32, down)],
    }
    data.update(overrides)
    return data


def refuse(data: dict) -> GenotypeError:
    with pytest.raises(GenotypeError) as info:
        genotype_from_dict(data)
    return info.value


def test_json_round_trip_keeps_id(tmp_path):
    g = genotype_from_dict(convnext_dict())
    path = tmp_path / "g.json"
    dump_genotype(g, path)
    again = load_genotype(path)
    assert again == g and again.id == g.id


def test_yaml_round_trip_keeps_id(tmp_path):
    g = genotype_from_dict(convnext_dict())
    path = tmp_path / "g.yaml"
    dump_genotype(g, path)
    assert "kind: patchify" in path.read_text()
    assert load_genotype(path).id == g.id


def test_canonical_form_fills_defaults_and_sorts_keys():
    g = genotype_from_dict(convnext_dict())
    data = json.loads(canonical_json(g))
    assert data["stages"][0]["block"]["layer_scale"] == 1e-6  # default filled
    assert list(data) == sorted(data)


def test_id_ignores_provenance_but_not_architecture():
    base = genotype_from_dict(convnext_dict())
    renamed = genotype_from_dict(convnext_dict(name="other", notes="a note"))
    wider = genotype_from_dict(convnext_dict(image_size=96))
    assert renamed.id == base.id
    assert wider.id != base.id
    assert len(base.id) == 12


def test_id_is_stable_across_processes():
    import subprocess

    code = "from archspace import load_genotype; print(load_genotype('genotypes/resnet50.json').id)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == load_genotype("genotypes/resnet50.json").id


def test_genotype_is_frozen():
    g = genotype_from_dict(convnext_dict())
    with pytest.raises(ValidationError):
        g.name = "x"  # type: ignore[misc]


def test_missing_schema_version_means_current_and_newer_is_refused():
    data = convnext_dict()
    assert genotype_from_dict(data).schema_version == SCHEMA_VERSION
    err = refuse(convnext_dict(schema_version=SCHEMA_VERSION + 1))
    assert err.path == "schema_version" and "newer" in err.reason


def test_migration_path_applies_registered_steps(monkeypatch):
    """A future schema 2 that renames a field: version-1 files are migrated step by step."""
    from archspace.genotype import io

    def v1_to_v2(data):
        data["resolution"] = data.pop("image_size")
        return data

    monkeypatch.setattr(io, "MIGRATIONS", {1: v1_to_v2})
    monkeypatch.setattr(io, "SCHEMA_VERSION", 2)
    old = convnext_dict(schema_version=1)
    migrated = io.migrate(copy.deepcopy(old))
    assert migrated["schema_version"] == 2
    assert migrated["resolution"] == old["image_size"] and "image_size" not in migrated


def test_json_schema_lists_every_mixer_kind():
    text = json.dumps(json_schema())
    for kind in ("dwconv", "conv", "mlp", "irb", "patchify", "bottleneck"):
        assert f'"{kind}"' in text


@pytest.mark.parametrize(
    "mutate, path, reason",
    [
        (lambda d: d["stages"][0]["mixer"].update(kernel=4), "stages[0].mixer.kernel", "odd"),
        (lambda d: d["stages"][0].update(depth=0), "stages[0].depth", "greater than or equal to 1"),
        (lambda d: d["stages"][1]["ffn"].update(ratio=0), "stages[1].ffn.ratio", "greater than 0"),
        (lambda d: d["stages"][0]["mixer"].update(kind="nope"), "stages[0].mixer", "known kinds"),
        (lambda d: d["stages"][0]["mixer"].update(colour="red"), "stages[0].mixer.colour", "unknown field"),
        (lambda d: d["stages"][1].update(downsample={"kind": "none"}), "stages[1].downsample", "32-channel stage"),
        (lambda d: d["stages"][0].pop("ffn"), "stages[0].ffn", "needs an ffn"),
        (lambda d: d["stages"][0].update(downsample={"kind": "none", "block_stride": 0}), "stages[0].downsample.block_stride", "not one of 1"),
        (lambda d: d.update(image_size=8, stem={"kind": "patchify", "channels": 16, "patch": 8}), "stages[1].downsample.kernel", "larger than the 1x1 map"),
    ],
)
def test_validation_names_the_field(mutate, path, reason):
    data = convnext_dict()
    mutate(data)
    err = refuse(data)
    assert err.path == path, str(err)
    assert reason in err.reason
    assert "\n" not in str(err)


def test_groups_must_divide_channels():
    data = convnext_dict()
    data["stages"][0].update(block={"kind": "bottleneck", "expansion": 4}, mixer={"kind": "conv", "groups": 3}, ffn=None)
    err = refuse(data)
    assert err.path == "stages[0].mixer.groups" and "does not divide 4 channels" in err.reason


def test_load_reports_file_and_bad_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(GenotypeError, match="bad.json: not valid JSON"):
        load_genotype(bad)
    with pytest.raises(GenotypeError, match="no such file"):
        load_genotype(tmp_path / "missing.json")
