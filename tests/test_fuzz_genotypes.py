"""Fuzzing (hypothesis): mutated genotypes and damaged files are built and run, or refused with one line naming the field.

Bases: every shipped genotype and small random genotypes. An accepted genotype also gets its analytic
cost and memory; a sample is built and run forward at the smallest image size it accepts (only when
small enough for a test); the CLI (`validate`, `build`, `cost`) is run in-process on files written from
the mutated data. Any exception other than an ArchspaceError fails the test.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml
from fuzzing import check_refusal, mutated, mutated_text, random_genotypes, shipped_genotypes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspace.builder import build
from archspace.cli import main
from archspace.cost.summary import summarize
from archspace.errors import ArchspaceError
from archspace.genotype import Genotype, load_genotype
from archspace.genotype.io import canonical_dict, genotype_from_dict

STATS: Counter = Counter()
SMALL_FLOPS = 5 * 10**8  # build and run only what a 2-core test machine runs in well under a second
SMALL_PARAMS = 3 * 10**7
FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], database=None)
TMP = Path(tempfile.mkdtemp(prefix="archspace-fuzz-"))


def bases() -> list:
    return [*shipped_genotypes().values(), *random_genotypes()]


def validate_or_refuse(data) -> Genotype | None:
    """The genotype, or None after checking the refusal is one of ours, one line, naming the field."""
    STATS["cases"] += 1
    try:
        genotype = genotype_from_dict(data)
    except ArchspaceError as err:
        check_refusal(err, data)
        STATS["refused"] += 1
        return None
    STATS["accepted"] += 1
    summarize(genotype)  # analytic params, FLOPs and memory never fail on an accepted genotype
    return genotype


def smallest(genotype: Genotype) -> Genotype:
    """The genotype at the smallest image size (and 10 classes) it accepts."""
    data = {**canonical_dict(genotype), "num_classes": 10}
    for size in (32, 56, 64, 112, 160, genotype.image_size):
        if size > genotype.image_size:
            continue
        try:
            return genotype_from_dict({**data, "image_size": size})
        except ArchspaceError:
            continue
    return genotype


def build_and_run(genotype: Genotype) -> bool:
    """Build and run a forward pass when the genotype is small enough for a test; True when it ran."""
    small = smallest(genotype)
    summary = summarize(small)
    if summary.flops > SMALL_FLOPS or summary.params > SMALL_PARAMS:
        STATS["too big to run in a test"] += 1
        return False
    model = build(small).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, small.in_chans, small.image_size, small.image_size))
    assert out.shape == (1, small.num_classes)
    STATS["built and run"] += 1
    return True


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


def write(data, fmt: str, name: str = "case") -> Path:
    path = TMP / f"{name}.{fmt}"
    path.write_text(yaml.safe_dump(data) if fmt == "yaml" else json.dumps(data))
    return path


def check_cli_refusal(rc: int, err: str) -> None:
    assert rc == 2, (rc, err)
    lines = [line for line in err.splitlines() if line.startswith("archspace: ")]
    assert len(lines) == 1 and lines[0].startswith("archspace: error: "), err
    assert "Traceback" not in err


@settings(max_examples=200, **FUZZ)
@given(data=mutated(bases()), build_it=st.integers(0, 9))
def test_mutated_genotypes_build_and_run_or_are_refused(data, build_it):
    genotype = validate_or_refuse(data)
    if genotype is not None and build_it == 0:
        build_and_run(genotype)


@settings(max_examples=80, **FUZZ)
@given(data=mutated(bases()), fmt=st.sampled_from(["json", "yaml"]), build_it=st.integers(0, 14))
def test_cli_validate_build_cost_on_mutated_files(data, fmt, build_it):
    path = write(data, fmt)
    rc, out, err = run_cli("validate", str(path))
    if rc != 0:
        check_cli_refusal(rc, err)
        for command in ("build", "cost"):
            check_cli_refusal(*run_cli(command, str(path))[::2])
        return
    genotype = load_genotype(path)
    if build_it == 0 and genotype.image_size <= 64 and summarize(genotype).flops < SMALL_FLOPS / 4:
        for command in ("build", "cost"):
            rc, out, err = run_cli(command, str(path))
            assert rc == 0 and genotype.name in out, (command, err)


@settings(max_examples=120, **FUZZ)
@given(raw=mutated_text([json.dumps(d) for d in shipped_genotypes().values()] + [yaml.safe_dump(d) for d in random_genotypes()[:6]]),
       fmt=st.sampled_from(["json", "yaml"]))
def test_damaged_files_are_refused_in_one_line(raw, fmt):
    path = TMP / f"damaged.{fmt}"
    path.write_bytes(raw)
    STATS["cases"] += 1
    try:
        load_genotype(path)
        STATS["accepted"] += 1
    except ArchspaceError as err:
        check_refusal(err)
        assert str(path) in str(err), f"the file is not named: {err}"
        STATS["refused"] += 1
    rc, _, err = run_cli("validate", str(path), "genotypes/resnet50.json")
    assert rc in (0, 2) and "Traceback" not in err


def test_batch_commands_report_each_bad_file_and_go_on(tmp_path):
    good = "genotypes/resnet50.json"
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff{}")
    string = tmp_path / "string.json"
    data = json.loads(Path(good).read_text())
    data["stages"][0]["channels"] = "96"
    string.write_text(json.dumps(data))
    rc, out, err = run_cli("validate", str(bad), good, str(string))
    assert rc == 2 and f"ok  {good}" in out
    lines = err.strip().splitlines()
    assert len(lines) == 2 and str(bad) in lines[0] and "UTF-8" in lines[0]
    assert f"{string}: stages[0].channels: must be an integer, got a string '96'" in lines[1]
    rc, out, err = run_cli("cost", str(bad), good, "--json")
    assert rc == 2 and [r["name"] for r in json.loads(out)] == ["resnet50"]
    assert sum(line.startswith("archspace: error:") for line in err.splitlines()) == 1


def test_declared_types_are_strict_but_json_numbers_load():
    data = json.loads(Path("genotypes/swin_t.json").read_text())
    data["stages"][0]["ffn"]["ratio"] = 4  # an integer where a number is declared
    assert genotype_from_dict(data).stages[0].ffn.ratio == 4.0
    for path, value in ((("stages", 0, "depth"), 2.0), (("stages", 0, "depth"), "2"), (("stages", 0, "ffn", "bias"), 1),
                        (("stages", 0, "ffn", "ratio"), "4"), (("stages", 0, "ffn", "ratio"), float("nan"))):
        bad = json.loads(json.dumps(data))
        node = bad
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        with pytest.raises(ArchspaceError, match=re.escape("stages[0]." + ".".join(path[2:]) + ": ")):
            genotype_from_dict(bad)


@pytest.mark.slow
@settings(max_examples=2000, **FUZZ)
@given(data=mutated(bases()), build_it=st.integers(0, 3))
def test_fuzz_2000_mutated_genotypes(data, build_it):
    genotype = validate_or_refuse(data)
    if genotype is not None and build_it == 0:
        build_and_run(genotype)
    if STATS["cases"] % 500 == 0:
        print(f"fuzz so far: {dict(STATS)}")


def teardown_module() -> None:
    print(f"\nfuzz totals (unexpected exceptions would have failed a test): {dict(STATS)}")
