"""`archspace pareto | analyze | report` end to end: on a synthetic run, on a real tiny quickstart run, and
optuna-dashboard opening a run's storage."""
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from reportutils import make_run

from archspace.cli import main

REPO = Path(__file__).resolve().parent.parent
PUBLISHED = "u_dwconv_micro"


def _pareto_json(run: Path, capsys, *extra: str) -> dict:
    assert main(["pareto", str(run), *extra, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("reporting") / "run", n=60, evaluator="proxy")


def test_pareto_json_and_front_plot(synthetic_run, capsys):
    run = synthetic_run
    out = _pareto_json(run, capsys)
    assert [o["name"] for o in out["objectives"]] == ["score", "flops"]
    states = pd.read_csv(run / "trials.csv").set_index("number")["state"]
    assert out["front"] and all(states[r["number"]] == "COMPLETE" for r in out["front"])
    assert sum(r["knee"] for r in out["front"]) == 1 and out["knee"]["knee"]
    assert out["counts"]["total"] == 60 and out["counts"]["INFEASIBLE"] > 0 and out["counts"]["FAIL"] > 0
    assert all(Path(r["genotype_file"]).is_file() for r in out["front"])
    assert out["hypervolume"]["value"] > 0 and out["hypervolume"]["reference"]["flops"]["rule"] == "budget"
    assert out["published"] == [] and out["dominated"] == []
    assert (run / "front.png").stat().st_size > 10_000 and (run / "front.html").is_file()


def test_analyze_writes_findings_importance_and_plots(synthetic_run, capsys):
    run = synthetic_run
    assert main(["analyze", str(run), "--json", "--bootstrap", "2"]) == 0
    analysis = json.loads(capsys.readouterr().out)
    assert analysis["findings"] and set(analysis["importance"]) == {"fANOVA", "PED-ANOVA"}
    assert analysis["error_name"] == "score gap to the best trial"  # a proxy score has no fixed top
    for name in ("edf.png", "importance.png", "objective.png", "analysis.json"):
        assert (run / name).is_file()


@pytest.mark.slow
def test_published_models_measured_once_then_report(synthetic_run, capsys, monkeypatch):
    run = synthetic_run
    out = _pareto_json(run, capsys, "--against", PUBLISHED)
    pub = out["published"][0]
    assert pub["name"] == PUBLISHED and pub["score"] is not None and pub["flops"] > 0
    assert out["reported"][0]["name"] == PUBLISHED and out["reported"][0]["top1"] > 0
    for d in out["dominated"]:
        assert set(d["dominated_by"]) <= {r["number"] for r in out["front"]}
    assert out["hypervolume"]["published"] is not None

    # published results are cached in the run: a second call evaluates nothing
    import archspace.search.published as published  # where measure() looks it up

    def no_evaluation(*args, **kwargs):
        raise AssertionError("evaluated again")

    monkeypatch.setattr(published, "evaluate_genotype", no_evaluation)
    again = _pareto_json(run, capsys, "--against", PUBLISHED)
    assert again["published"] == out["published"]

    assert main(["report", str(run), "--against", PUBLISHED, "--bootstrap", "2"]) == 0
    md = (run / "report.md").read_text()
    for section in ("Configuration and budgets", "Pareto front", "measured here", "as their papers report them",
                    "Design-space analysis", "infeasible", "optuna-dashboard"):
        assert section in md
    for image in ("front.png", "edf.png", "importance.png", "objective.png"):
        assert f"({image})" in md
    assert "<table>" in (run / "report.html").read_text()


def test_pareto_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["pareto", str(tmp_path)]) == 2
    assert "not a search run" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_optuna_dashboard_opens_the_run_storage(tmp_path):
    dashboard = shutil.which("optuna-dashboard")
    if dashboard is None:
        pytest.skip('optuna-dashboard is not installed (pip install -e ".[dashboard]")')
    run = make_run(tmp_path / "run", n=10)
    port = _free_port()
    proc = subprocess.Popen([dashboard, str(run / "study.journal"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as r:
                    studies = json.load(r)["study_summaries"]
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        assert [s["study_name"] for s in studies] == ["synthetic"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_pareto_analyze_report_on_a_real_quickstart_run(tmp_path, capsys):
    run = tmp_path / "qs"
    assert main(["search", str(REPO / "searches" / "quickstart.yaml"), "--trials", "10", "--out", str(run)]) == 0
    capsys.readouterr()
    out = _pareto_json(run, capsys, "--against", "zoo")
    assert out["front"] and out["published"], "the quickstart space holds the STM micro models within its budget"
    assert all(p["flops"] <= 1.5e9 for p in out["published"])
    assert (run / "front.png").is_file() and (run / "published.json").is_file()
    assert main(["report", str(run), "--bootstrap", "2"]) == 0
    assert "Pareto front" in (run / "report.md").read_text()
