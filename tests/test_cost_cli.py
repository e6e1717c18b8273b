"""`archspace cost` and `archspace latency-table build`: tables, JSON/CSV, one-line errors, and archspace.cost()."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import archspace
from archspace.cli import main
from archspace.cost.random import preset_genotypes


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archspace.cli", *args], capture_output=True, text=True, env=env)


def test_cost_json_has_analytic_and_fvcore(capsys):
    assert main(["cost", "genotypes/resnet50.json", "genotypes/convnext_t.json", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["resnet50", "convnext_t"]
    for r in rows:
        assert r["params"] == r["fvcore_params"] and r["flops"] == r["fvcore_flops"]
        assert r["latency_ms"] is None and r["training_memory_bytes"] > r["inference_memory_bytes"] > 0


def test_cost_table_with_measured_latency(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARCHSPACE_CACHE", str(tmp_path))
    assert main(["cost", "genotypes/resnet50.json", "--latency", "measure"]) == 0
    out = capsys.readouterr().out
    assert "resnet50" in out and "25.56M" in out and "4.112G" in out and "±" in out and "thread(s)" in out
    assert (tmp_path / "results.sqlite").is_file()


def test_cost_csv(capsys):
    assert main(["cost", "genotypes/convnext_t.json", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["name"] == "convnext_t" and int(rows[0]["params"]) == 28589128


def test_cost_bad_input_is_one_line_exit_2(tmp_path, capsys):
    result = run("cost", str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    for args in (["cost", "genotypes/resnet50.json", "--batch", "0"], ["cost", "genotypes/resnet50.json", "--latency", "sometimes"],
                 ["latency-table", "drop"], ["latency-table", "build", "--networks", "0"]):
        try:
            code = main(args)
        except SystemExit as exit_:
            code = exit_.code
        err = capsys.readouterr().err
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1 and err.startswith("archspace: error:"), err


def test_latency_table_build_then_predict(tmp_path):
    env = {**os.environ, "ARCHSPACE_CACHE": str(tmp_path)}
    built = run("latency-table", "build", "--networks", "2", "--min-run-time", "0.01", env=env)
    assert built.returncode == 0, built.stderr
    assert "units" in built.stdout and "fitted on 2 networks" in built.stdout
    genotype = tmp_path / "preset.json"
    archspace.dump_genotype(preset_genotypes(1, seed=0)[0], genotype)  # a network whose units are all in the table
    predicted = run("cost", str(genotype), "--latency", "predict", "--json", env=env)
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)[0]["latency_ms"] > 0


def test_archspace_cost_function():
    g = archspace.load_genotype("genotypes/resnet50.json")
    summary = archspace.cost(g)
    assert (summary.params, summary.flops) == (25557032, 4111512576)
    assert summary.id == g.id and summary.latency_ms is None
