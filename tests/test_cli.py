"""The command line: output, JSON, and one-line errors with exit code 2."""
from __future__ import annotations

import json
import subprocess
import sys

from archspace.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archspace.cli", *args], capture_output=True, text=True)


def test_build_prints_totals_and_stage_table(capsys):
    assert main(["build", "genotypes/resnet50.json"]) == 0
    out = capsys.readouterr().out
    assert "25.56M" in out and "4.11G" in out and "stage4" in out and "(1, 1000)" in out


def test_build_json_parses(capsys):
    assert main(["build", "genotypes/convnext_t.json", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"name", "id", "params", "flops", "output_shape", "stages"} <= set(data)
    assert data["params"] == 28589128 and data["output_shape"] == [1, 1000]
    assert sum(s["params"] for s in data["stages"]) == data["params"]


def test_validate_ok_and_bad_exit_codes(tmp_path):
    good = run("validate", "genotypes/resnet50.json", "genotypes/convnext_t.json")
    assert good.returncode == 0
    data = json.load(open("genotypes/convnext_t.json"))
    data["stages"][2]["mixer"]["kernel"] = 6
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = run("validate", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "stages[2].mixer.kernel" in lines[0] and "odd" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_input_is_one_line_exit_2(tmp_path):
    for args in (["build", str(tmp_path / "missing.json")], ["build"], ["nope"]):
        result = run(*args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_schema_is_json(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Genotype"
