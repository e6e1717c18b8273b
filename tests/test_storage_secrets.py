"""A database password is never written or printed: run folder, study metadata, printed lines, error messages.

Runs on a real PostgreSQL server (tests/pgserver.py); it trusts local connections, so any password is accepted
and serves as the secret to look for."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archspace.cli import main
from archspace.search.storage import redact, scrub
from pgserver import postgres_server
from searchutils import tiny_config

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Zq7-s3cr%40t"  # %40 is "@": the decoded form must not leak either


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


def with_password(url: str) -> str:
    return url.replace("archspace@", f"archspace:{SECRET}@", 1)


def leaks(text: str) -> bool:
    return SECRET in text or "Zq7-s3cr@t" in text


def test_redact_and_scrub():
    assert redact("postgresql+psycopg://user:pw@host:5432/db?x=1") == "postgresql+psycopg://user:***@host:5432/db?x=1"
    assert redact("postgresql://user@host/db") == "postgresql://user@host/db"
    assert redact("/tmp/run/study.journal") == "/tmp/run/study.journal" and redact("sqlite:///a.db") == "sqlite:///a.db"
    assert scrub("no Zq7-s3cr@t here", f"postgresql://u:{SECRET}@h/db") == "no *** here"


def _search(cfg: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "archspace.cli", "search", str(cfg), "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=400, env=env, cwd=ROOT)


def test_no_file_of_a_run_folder_and_no_printed_line_holds_the_password(tmp_path, pg_url):
    import optuna

    url = with_password(pg_url)
    cfg = tiny_config(tmp_path, name="pg_secret", trials=3)
    out = tmp_path / "run"
    first = _search(cfg, out, "--storage", url)  # worker processes open the study with the full URL
    assert first.returncode == 0, first.stderr
    assert "optuna-dashboard postgresql+psycopg://archspace:***@127.0.0.1" in first.stdout
    assert main(["report", str(out)]) == 0
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {"run.json", "trials.csv", "report.md", "config.yaml"} <= {p.name for p in files}
    assert not [str(p) for p in files if leaks(p.read_bytes().decode("utf-8", "replace"))]
    assert json.loads((out / "run.json").read_text())["storage"] == redact(url)
    study = optuna.load_study(study_name="pg_secret", storage=pg_url)
    system = study._storage.get_study_system_attrs(study._study_id)  # noqa: SLF001
    trial_attrs = [[t.user_attrs, t.system_attrs] for t in study.get_trials()]
    assert not leaks(json.dumps([study.user_attrs, system, trial_attrs], default=str))
    assert not leaks(first.stdout + first.stderr)

    again = _search(cfg, out, "--trials", "4")  # the folder keeps no password: one line asks for it
    assert again.returncode == 2 and not leaks(again.stderr)
    assert again.stderr.strip().endswith("whose password the run folder does not keep; resume it with --storage and the full URL")
    resumed = _search(cfg, out, "--trials", "4", "--storage", url)
    assert resumed.returncode == 0, resumed.stderr
    assert len(study.get_trials()) == 4 and not leaks(resumed.stdout + resumed.stderr)


def test_error_messages_never_hold_the_password(tmp_path, capsys):
    pytest.importorskip("psycopg")
    cfg = tiny_config(tmp_path, trials=1)
    for i, url in enumerate((f"postgresql+psycopg://archspace:{SECRET}@127.0.0.1:1/db?connect_timeout=2",
                             f"postgresql+psycopg://archspace:{SECRET}@127.0.0.1:notaport/db")):
        # a fresh run folder each: a second URL on the same folder is a re-target, announced on its own line
        assert main(["search", str(cfg), "--out", str(tmp_path / f"run{i}"), "--storage", url, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("archspace: error: ") and not leaks(err), err
    assert not [p for p in (tmp_path / "run").rglob("*") if p.is_file() and leaks(p.read_bytes().decode("utf-8", "replace"))]


def test_a_failed_start_may_be_retargeted_and_a_psycopg2_url_is_told_the_form_to_use(tmp_path, capsys, monkeypatch):
    import optuna

    monkeypatch.setitem(sys.modules, "psycopg2", None)  # as where only the [postgres] extra (psycopg 3) is installed
    cfg, out = tiny_config(tmp_path, trials=2), tmp_path / "run"
    assert main(["search", str(cfg), "--out", str(out), "--quiet", "--storage", "postgresql+psycopg2://u:pw@127.0.0.1:1/db"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "psycopg2 driver is not installed" in err and "postgresql+psycopg://" in err
    url = f"sqlite:///{tmp_path / 'study.db'}"
    assert main(["search", str(cfg), "--out", str(out), "--quiet", "--storage", url]) == 0  # it recorded no trial
    assert "re-targeted from 'postgresql+psycopg2://u:***@127.0.0.1:1/db'" in capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["storage"] == url
    assert len(optuna.load_study(study_name="tiny", storage=url).trials) == 2
    other = f"sqlite:///{tmp_path / 'other.db'}"  # a run that recorded trials keeps its storage
    assert main(["search", str(cfg), "--out", str(out), "--quiet", "--storage", other]) == 2
    assert "resume it without --storage or with the same one" in capsys.readouterr().err
