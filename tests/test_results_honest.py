"""Results that do not mislead: a knee only where one exists, a hypervolume reference set by the run alone, reports and
analysis from a committed run folder (no study), counts that keep invalid samples and interrupted rows apart,
importance estimates inside their bands and unranked genes shown as such."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from archspace.cli import main
from archspace.pareto import MAXIMIZE, MINIMIZE, Objective, knee_index, knee_of, objectives_from
from archspace.search.rundir import RunDir
from reportutils import make_run

ROOT = Path(__file__).resolve().parent.parent
MIN_MIN = [Objective("a", MINIMIZE), Objective("b", MINIMIZE)]


def test_a_knee_only_where_a_point_lies_beyond_the_line_through_the_ends():
    assert knee_of([(0, 10), (1, 3), (10, 0)], MIN_MIN) == 1  # bends towards the ideal point
    convex = [(0, 10), (5, 5.5), (10, 0)]  # inside the line: knee_index's pick is a tie-break, not a knee
    assert knee_index(convex, MIN_MIN) == 0 and knee_of(convex, MIN_MIN) is None
    assert knee_of([(0, 10), (5, 5), (10, 0)], MIN_MIN) is None  # on the line
    assert knee_of([(0, 10), (10, 0)], MIN_MIN) is None and knee_of([[1], [3], [2]], [Objective("s", MAXIMIZE)]) is None


@pytest.fixture(params=["hybrid_1.8g_train", "hybrid_1.8g_twins_train"])
def committed(request, tmp_path) -> Path:
    """A copy of a committed short-training result: its files only (no study.journal is committed)."""
    src = ROOT / "results" / request.param
    if not (src / "trials.csv").is_file():
        pytest.skip(f"results/{request.param} is not in this checkout")
    out = tmp_path / "hybrid"
    shutil.copytree(src, out)
    assert not (out / "study.journal").exists()
    return out


def test_the_committed_front_names_a_knee_only_where_one_lies_beyond_its_ends(committed, capsys):
    assert main(["pareto", str(committed)]) == 0
    out = capsys.readouterr().out
    result = json.loads((committed / "pareto.json").read_text())
    objectives = objectives_from([(o["name"], o["direction"]) for o in json.loads((committed / "run.json").read_text())["objectives"]])
    front = sorted(result["front"], key=lambda r: r["flops"])
    knee = knee_of([[r[o.name] for o in objectives] for r in front], objectives)
    if knee is None:
        assert "knee: none (no front point lies beyond the line through the front's ends)" in out
        assert result["knee"] is None and not any(r["knee"] for r in result["front"])
    else:
        assert [r["knee"] for r in front] == [i == knee for i in range(len(front))]


@pytest.mark.slow
def test_the_committed_report_with_seeds_comes_from_its_caches_alone(committed, monkeypatch, capsys):
    """The README's `archspace report ... --seeds 3` on a copy retrains nothing: every published row and seed replica
    it needs is in the committed published.json and seeds.json under the run's protocol."""
    from archspace.search import published

    def refuse(run, genotype, seed=None, report=None):
        raise AssertionError(f"retrained {genotype.name} at seed {seed}: its row is not in the committed caches")

    monkeypatch.setattr(published, "evaluate_genotype", refuse)
    against = ["zoo", "transxnet_t", "contnet_s", "contnet_ti", "transcnn_small", "resnet50_scsc_v1"]
    assert main(["report", str(committed), "--against", *against, "--seeds", "3"]) == 0
    assert "evaluating" not in capsys.readouterr().err  # where the progress lines go
    assert not (committed / "study.journal").exists()


def test_analysis_works_from_the_committed_files_alone_and_leaves_no_journal(committed, capsys):
    assert main(["analyze", str(committed), "--bootstrap", "4"]) == 0
    assert not (committed / "study.journal").exists(), "no empty journal left behind"
    analysis = json.loads((committed / "analysis.json").read_text())
    assert analysis["importance"]["fANOVA"] and analysis["importance"]["PED-ANOVA"]
    for table in analysis["importance"].values():
        assert all(v["p05"] <= v["value"] <= v["p95"] for v in table.values())


def test_the_hypervolume_reference_depends_on_the_run_alone(tmp_path, monkeypatch):
    from archspace.reporting import published as pub
    from archspace.reporting.front import front_report

    run = RunDir(make_run(tmp_path / "run", n=40, evaluator="train"))
    alone = front_report(run)["hypervolume"]
    far = {"name": "far", "genotype_id": "x", "flops": 9e9, "params": 1e8, "score": -5.0, "reason": "named", "error": None}
    monkeypatch.setattr(pub, "select", lambda run, against: [pub.Candidate("far", None, True, "named with --against")])
    monkeypatch.setattr(pub, "measured", lambda run, candidates, progress=None, workers=1: [far])
    monkeypatch.setattr(pub, "reported", lambda candidates: [])
    compared = front_report(run, ["far"])["hypervolume"]
    assert compared["reference"] == alone["reference"] and compared["value"] == alone["value"]
    assert alone["reference"]["score"] == {"value": 0.0, "rule": "declared"}  # the training evaluator's score is an accuracy
    assert alone["reference"]["flops"]["rule"] == "budget"


def test_a_declared_hypervolume_reference_is_used_and_checked(tmp_path):
    from archspace.errors import ArchspaceError
    from archspace.search.config import load_config
    from searchutils import tiny_config

    cfg = load_config(tiny_config(tmp_path, hypervolume_reference={"score": 0.1}))
    assert cfg.hypervolume_reference == {"score": 0.1}
    with pytest.raises(ArchspaceError, match=r"hypervolume_reference\.latency_ms: not an objective of the search"):
        load_config(tiny_config(tmp_path, hypervolume_reference={"latency_ms": 3}))


def test_report_counts_invalid_samples_apart_from_infeasible(tmp_path):
    from archspace.reporting.front import front_report

    root = make_run(tmp_path / "run", n=40, evaluator="train")
    df = pd.read_csv(root / "trials.csv")
    over = df.index[df["state"] == "INFEASIBLE"]
    df.loc[over[:2], "error"] = "invalid: stages[0].mixer.heads: channels 48 do not divide into 5 heads"
    df.to_csv(root / "trials.csv", index=False)
    counts = front_report(RunDir(root))["counts"]
    assert counts["invalid"] == 2 and counts["INFEASIBLE"] == len(over) - 2


def test_the_summary_after_a_resume_counts_interrupted_rows(tmp_path, capsys):
    from archspace.search.commands import _print_summary
    from archspace.search.config import load_config
    from archspace.search.progress import summary
    from archspace.search.runner import search
    from searchutils import tiny_config

    cfg = load_config(tiny_config(tmp_path, trials=3))
    run, _ = search(cfg, tmp_path / "run", quiet=True, in_process=True)
    df = run.trials()
    extra = df.iloc[[0]].assign(number=len(df), state="FAIL", error="interrupted: its process stopped before the trial finished; retried")
    (tmp_path / "run" / "trials.csv").write_text(pd.concat([df, extra]).to_csv(index=False))
    s = summary(run.trials(), cfg)
    _print_summary(run, cfg, s)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("search tiny: 3 trials:") and first.endswith("and 1 interrupted (their process stopped; retried, one row each)")


def test_importance_bands_hold_their_estimate_and_unranked_genes_are_absent():
    from archspace.importance import band

    b = band(0.13, np.array([0.0, 0.01, 0.02, 0.05, 0.12, 0.12]))  # the case: estimate above every resample's 95th
    assert b["p05"] <= 0.13 <= b["p95"] <= 1.0 and b["p05"] >= 0.0
    assert band(0.5, np.array([0.5])) == {"p05": 0.5, "p95": 0.5}


def test_a_gene_an_evaluator_does_not_rank_is_drawn_as_not_ranked(tmp_path):
    from archspace.reporting.analysis_plots import importance_plots

    importance = {"fANOVA": {"depth": {"value": 0.7, "mean": 0.7, "p05": 0.6, "p95": 0.8}},
                  "PED-ANOVA": {"depth": {"value": 0.4, "mean": 0.4, "p05": 0.3, "p95": 0.5},
                                "kernel@dwconv": {"value": 0.6, "mean": 0.6, "p05": 0.5, "p95": 0.7}}}
    files = importance_plots(tmp_path, importance, "t")
    assert "not ranked by fANOVA" in (tmp_path / "importance.html").read_text() and len(files) == 2
