"""The study as optuna-dashboard shows it, through the dashboard's own WSGI API: objectives named as the config names
them; invalid and over-budget trials infeasible (its constraint list) with finite values that stay off its best trials."""
from __future__ import annotations

import io
import json
import math
from wsgiref.util import setup_testing_defaults

import pytest

from archspace.search.config import load_config
from archspace.search.runner import search
from searchutils import TINY_SPACE, tiny_config


def _get(app, path: str) -> dict:
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(PATH_INFO=path, REQUEST_METHOD="GET", **{"wsgi.input": io.BytesIO()})
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, exc_info=None: status.append(s)))
    assert status[0].startswith("200"), status
    return json.loads(body)


def test_the_dashboard_names_the_objectives(tmp_path):
    dashboard = pytest.importorskip("optuna_dashboard")
    cfg = load_config(tiny_config(tmp_path, trials=3))
    run, _ = search(cfg, tmp_path / "run", quiet=True, in_process=True)
    app = dashboard.wsgi(run.load_study()._storage)  # noqa: SLF001
    study_id = _get(app, "/api/studies")["study_summaries"][0]["study_id"]
    detail = _get(app, f"/api/studies/{study_id}")
    assert detail["objective_names"] == ["score", "flops"]


def _dashboard_infeasible(t: dict) -> bool:
    """What optuna-dashboard's plots and state chart call an infeasible trial: Complete with a constraint > 0."""
    return t["state"] == "Complete" and any(c > 0 for c in t["constraints"])


def test_invalid_and_over_budget_trials_are_infeasible_on_the_dashboard_with_finite_values(tmp_path):
    dashboard = pytest.importorskip("optuna_dashboard")
    path = tiny_config(tmp_path, trials=10)
    # heads 5 divides none of the tiny space's widths: every sra stage makes an invalid sample
    (tmp_path / "tiny.yaml").write_text(TINY_SPACE.replace("heads: 1,", "heads: {choice: [1, 5]},"))
    run, summary = search(load_config(path), tmp_path / "run", quiet=True, in_process=True)
    df = run.trials().set_index("number")
    invalid = set(df.index[df["error"].fillna("").str.startswith("invalid:")])
    infeasible = set(df.index[df["state"] == "INFEASIBLE"])
    assert invalid and infeasible - invalid and (df["state"] == "COMPLETE").any(), df[["state", "error"]]
    assert summary["infeasible"] + summary["invalid"] == len(infeasible) and summary["invalid"] == len(invalid)
    assert df.loc[list(infeasible), "score"].isna().all()  # archspace's own record keeps no stand-in

    app = dashboard.wsgi(run.load_study()._storage)  # noqa: SLF001
    study_id = _get(app, "/api/studies")["study_summaries"][0]["study_id"]
    detail = _get(app, f"/api/studies/{study_id}")
    trials = {t["number"]: t for t in detail["trials"]}
    # Infeasible there exactly where trials.csv says INFEASIBLE (over a budget or invalid), feasible elsewhere
    assert {n for n, t in trials.items() if _dashboard_infeasible(t)} == infeasible
    # Every value is a number: a "-inf" string turns the Pareto-front axes into categories
    assert all(isinstance(v, float) and math.isfinite(v) for t in trials.values() for v in t["values"])
    # Unmeasured values sit beyond every feasible score, so no infeasible trial is among the best trials
    feasible_scores = df.loc[df["state"] == "COMPLETE", "score"]
    assert all(trials[n]["values"][0] < feasible_scores.min() for n in infeasible)
    assert detail["best_trials"] and not {t["number"] for t in detail["best_trials"]} & infeasible
    # An over-budget trial keeps its real FLOPs on the cost axis
    for n in infeasible - invalid:
        assert trials[n]["values"][1] == df.loc[n, "flops"]
