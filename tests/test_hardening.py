"""Hostile files, sanity limits, the memory check before building, atomic writes and self-healing caches."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from archspace import atomic
from archspace.cli import main
from archspace.cost import memory
from archspace.cost.cache import ResultCache
from archspace.cost.latency import LatencySettings
from archspace.cost.predictor import LatencyTable
from archspace.errors import ArchspaceError, GenotypeError
from archspace.genotype import load_genotype
from archspace.genotype.io import genotype_from_dict
from archspace.safeload import MAX_FILE_BYTES, MAX_NESTING, load_document


def zoo(name: str) -> dict:
    return json.loads(Path(f"genotypes/{name}.json").read_text())


def hostile_files(tmp: Path) -> dict[str, Path]:
    def put(name: str, data: bytes | str | dict, suffix: str = ".json") -> None:
        text = json.dumps(data) if isinstance(data, dict) else data
        path = tmp / f"{name}{suffix}"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        files[name] = path

    files: dict[str, Path] = {}
    deep = zoo("swin_t")
    deep["stages"][0]["depth"] = 10**6
    put("depth", deep)
    wide = zoo("resnet50")
    wide["stages"][3]["channels"] = 10**9
    put("channels", wide)
    big_image = zoo("swin_t")
    big_image["image_size"] = 100352
    put("image", big_image)
    many_params = zoo("resnet50")
    many_params["stages"][3]["channels"] = 60000  # under the field cap; 10.7 G parameters
    put("params", many_params)
    laughs = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join('*' + chr(97 + i) for _ in range(10))}]\n" for i in range(9))
    put("alias bomb", laughs, ".yaml")
    put("self reference", "a: &a [*a]\n", ".yaml")
    put("nested json", "[" * 100_000 + "]" * 100_000)
    put("nested yaml", "[" * 100_000 + "]" * 100_000, ".yaml")  # crashes libyaml's composer if it gets that far
    put("flat yaml", "x:\n" + "- 1\n" * 300_000, ".yaml")
    put("not utf-8", b'{"name": "\xff"}')
    with (tmp / "huge.json").open("wb") as f:
        f.truncate(100 * 2**20)
    files["100 MB"] = tmp / "huge.json"
    return files


def test_hostile_files_are_refused_in_one_line_quickly(tmp_path, capsys):
    slowest = 0.0
    for name, path in hostile_files(tmp_path).items():
        for command in ("validate", "build"):
            start = time.perf_counter()
            rc = main([command, str(path)])
            slowest = max(slowest, time.perf_counter() - start)
            err = capsys.readouterr().err.strip().splitlines()
            assert rc == 2 and len(err) == 1 and err[0].startswith(f"archspace: error: {path}"), (name, err)
    assert slowest < 5.0  # generous sanity bound; benchmarks/hostile_inputs.py measures (well under a second)


def test_field_caps_and_totals_name_the_field():
    data = zoo("resnet50")
    data["stages"][3]["channels"] = 60000
    with pytest.raises(GenotypeError, match=r"^stages\[3\]: the network would have 10.7G parameters"):
        genotype_from_dict(data)
    data = zoo("convnext_t")
    data["image_size"] = 14336
    with pytest.raises(GenotypeError, match=r"multiply-adds per image .* over the sanity limit"):
        genotype_from_dict(data)
    data = zoo("swin_t")
    data["stages"] = data["stages"] * 9
    with pytest.raises(GenotypeError, match=r"^stages: .*at most 32"):
        genotype_from_dict(data)


def test_load_document_limits(tmp_path):
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"a": [[[[[[[[[[1]]]]]]]]]]}))
    assert load_document(nested)["a"][0][0][0][0][0][0][0][0][0] == [1]
    too_deep = tmp_path / "deep.yaml"
    too_deep.write_text("- " * (MAX_NESTING + 2) + "x\n")
    with pytest.raises(GenotypeError, match="nested more than"):
        load_document(too_deep)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(GenotypeError, match="too large"):
        load_document(big)
    nan = tmp_path / "nan.json"
    nan.write_text('{"stages": [{"ratio": NaN}]}')
    with pytest.raises(GenotypeError, match=r"stages\[0\]\.ratio: must be a finite number"):
        load_document(nan)
    date = tmp_path / "date.yaml"
    date.write_text("name: 2024-01-01\n")
    with pytest.raises(GenotypeError, match="name: must be a number, string"):
        load_document(date)


def test_build_refuses_what_does_not_fit_unless_forced(monkeypatch, capsys):
    monkeypatch.setattr(memory, "available_memory_bytes", lambda device="cpu": 2**20)
    assert main(["build", "genotypes/u_dwconv_micro.json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "more than the 1 MiB available; pass --force" in err[0]
    assert main(["build", "genotypes/u_dwconv_micro.json", "--force"]) == 0
    assert "u_dwconv_micro" in capsys.readouterr().out


def test_available_memory_is_known_on_linux():
    available = memory.available_memory_bytes()
    assert available is None or 0 < available


def test_zoo_reports_a_bad_genotype_and_goes_on(tmp_path, monkeypatch, capsys):
    shutil.copy("genotypes/u_dwconv_micro.json", tmp_path / "u_dwconv_micro.json")
    (tmp_path / "broken.json").write_text('{"name": "broken"')
    monkeypatch.setenv("ARCHSPACE_ZOO", str(tmp_path))
    assert main(["zoo", "--json"]) == 2
    captured = capsys.readouterr()
    assert [r["name"] for r in json.loads(captured.out)] == ["u_dwconv_micro"]
    assert sum("archspace: error:" in line and "broken.json" in line for line in captured.err.splitlines()) == 1


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "table.json"
    atomic.write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}

    def crash(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["table.json"]  # no temporary file left behind


def test_corrupt_result_cache_is_set_aside_and_rebuilt(tmp_path, capsys):
    path = tmp_path / "results.sqlite"
    cache = ResultCache(path)
    cache.put("latency", "abc", {}, {}, 1.5)
    path.write_bytes(b"this is not a database" * 100)
    cache = ResultCache(path)
    assert "is corrupt" in capsys.readouterr().err
    assert cache.get("latency", "abc", {}, {}) is None and len(cache) == 0
    cache.put("latency", "abc", {}, {}, 2.5)
    assert cache.get("latency", "abc", {}, {}) == 2.5
    assert len(list(tmp_path.glob("results.sqlite.corrupt-*"))) == 1


@pytest.mark.parametrize("content", ['{"entries": {"a": 1.0', "[1, 2]", '{"entries": {"a": "fast"}}', '{"entries": {"a": NaN}}', "\xff"])
def test_corrupt_latency_table_is_set_aside_and_rebuilt(tmp_path, capsys, content):
    path = tmp_path / "cpu.json"
    path.write_text(content, encoding="latin-1")
    table = LatencyTable(LatencySettings(), path)
    assert table.entries == {} and "is corrupt" in capsys.readouterr().err
    table.entries["unit"] = 1.25
    table.save()
    assert LatencyTable(LatencySettings(), path).entries == {"unit": 1.25}
    assert len(list(tmp_path.glob("cpu.json.corrupt-*"))) == 1


def test_dumped_genotype_round_trips(tmp_path):
    from archspace.genotype import dump_genotype

    g = load_genotype("genotypes/swin_t.json")
    for suffix in (".json", ".yaml"):
        dump_genotype(g, tmp_path / f"g{suffix}")
        assert load_genotype(tmp_path / f"g{suffix}").id == g.id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json", "g.yaml"]


def test_library_errors_are_archspace_errors():
    with pytest.raises(ArchspaceError):
        load_genotype("genotypes")


def test_integer_genes_beyond_32_bits_are_refused():
    """Found by the fuzzer: a block stride of 2**63 passed validation and overflowed torch's conv2d."""
    data = zoo("resnet50_scsc_v1")
    data["stages"][0]["downsample"] = {"kind": "in_block", "block_stride": 2**63}
    with pytest.raises(GenotypeError, match=r"^stages\[0\]\.downsample\.block_stride: 9223372036854775808 is beyond the 2147483647 limit of a number gene"):
        genotype_from_dict(data)


def test_float_genes_beyond_32_bits_are_refused():
    """Found by the fuzzer: an FFN ratio of 1e308 overflowed the hidden width to infinity."""
    data = zoo("swin_t")
    data["stages"][0]["ffn"]["ratio"] = 1e308
    with pytest.raises(GenotypeError, match=r"^stages\[0\]\.ffn\.ratio: 1e\+308 is beyond"):
        genotype_from_dict(data)
