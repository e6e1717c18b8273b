"""The study as optuna-dashboard shows it, through the dashboard's own WSGI API: objectives named as the config names them."""
from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest

from archspace.search.config import load_config
from archspace.search.runner import search
from searchutils import tiny_config


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
