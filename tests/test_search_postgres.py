"""Many workers on one study through a real PostgreSQL server started by the test; export from the storage alone."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from archspace.cli import main
from archspace.errors import ArchspaceError
from pgserver import postgres_server
from searchutils import tiny_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


@pytest.mark.slow  # two CLI processes (torch import each): ~1 min on 2 idle cores
def test_two_processes_fill_one_study_without_duplicates(tmp_path, pg_url):
    cfg = tiny_config(tmp_path, name="pg_two", trials=8)
    cmd = [sys.executable, "-m", "archspace.cli", "search", str(cfg), "--storage", pg_url, "--quiet"]
    procs = [subprocess.Popen([*cmd, "--out", str(tmp_path / f"m{i}")], env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err

    import optuna

    study = optuna.load_study(study_name="pg_two", storage=pg_url)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 8 and sorted(t.number for t in trials) == list(range(8))
    assert all(t.state.is_finished() for t in trials)
    owners = {t.user_attrs["owner"].split(":")[1] for t in trials}
    assert len(owners) == 2, "both processes ran trials"
    for i in range(2):
        df = pd.read_csv(tmp_path / f"m{i}" / "trials.csv")
        assert list(df["number"]) == list(range(8)) and "RUNNING" not in set(df["state"])

    out = tmp_path / "exported"
    assert main(["results", "export", "--storage", pg_url, "--study", "pg_two", "--out", str(out)]) == 0
    from archspace.search.rundir import RunDir

    run = RunDir(out)
    mine = pd.read_csv(tmp_path / "m0" / "trials.csv").drop(columns=["duration_s"])
    exported = run.trials().drop(columns=["duration_s"])
    pd.testing.assert_frame_equal(exported[mine.columns], mine, check_dtype=False)
    evaluated = exported.dropna(subset=["eval_image_size"])["genotype_id"]
    assert all(run.genotype_path(g).is_file() for g in evaluated)
    assert run.config.trials == 8 and run.storage_url == pg_url and run.study_name == "pg_two"


def test_export_errors_are_one_line(tmp_path, pg_url, capsys):
    assert main(["results", "export", "--storage", pg_url, "--study", "nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("archspace: error: --study 'nope': no such study") and "\n" not in err


def test_missing_driver_names_the_extra(monkeypatch, tmp_path):
    from archspace.search.rundir import open_storage

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    with pytest.raises(ArchspaceError) as err:
        open_storage("postgresql+psycopg://u@127.0.0.1:1/db")
    assert 'pip install -e ".[postgres]"' in str(err.value) and "\n" not in str(err.value)


def test_unreachable_server_is_one_line():
    pytest.importorskip("psycopg")
    from archspace.search.rundir import open_storage

    with pytest.raises(ArchspaceError, match="cannot connect"):
        open_storage("postgresql+psycopg://u@127.0.0.1:1/db?connect_timeout=2")


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@pytest.mark.slow  # two CLI processes, one killed mid-trial, the other waits out the grace period: ~1-2 min on 2 cores
def test_a_killed_process_trial_is_failed_and_retried_by_the_live_one(tmp_path, pg_url):
    """kill -9 one of two processes on one study mid-trial: the other, through Optuna's heartbeat and
    RetryFailedTrialCallback, fails the dead trial, retries it and finishes the study; nobody reruns the killed command."""
    import signal
    import time

    import optuna

    train = {"kind": "train", "epochs": 3, "batch_size": 16, "max_steps_per_epoch": 6}
    cfg = tiny_config(tmp_path, name="pg_kill", trials=6, budgets={}, evaluator=train, heartbeat_s=1)
    cmd = [sys.executable, "-m", "archspace.cli", "search", str(cfg), "--storage", pg_url, "--quiet"]
    victim, survivor = (subprocess.Popen([*cmd, "--out", str(tmp_path / name)], env=_env(), stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True) for name in ("victim", "survivor"))
    storage = optuna.storages.RDBStorage(pg_url)  # one engine for the polling loop: a new one per poll exhausts max_connections
    try:
        killed, t0 = None, time.time()
        while killed is None:
            assert time.time() - t0 < 300, "the victim never ran a trial"
            assert victim.poll() is None, victim.communicate()[1]
            try:
                running = optuna.load_study(study_name="pg_kill", storage=storage).get_trials(states=(optuna.trial.TrialState.RUNNING,))
            except KeyError:  # the study is not made yet
                running = []
            for t in running:
                if "genotype" not in t.user_attrs:  # still sampling: a kill now would leave a partial set of params
                    continue
                pid = int(t.user_attrs.get("owner", "::").split(":")[1] or 0)
                if pid and _parent(pid) == victim.pid:
                    victim.send_signal(signal.SIGKILL)
                    killed = t.number
                    break
            time.sleep(0.1)
        victim.wait()
        _, err = survivor.communicate(timeout=400)
        assert survivor.returncode == 0, err
    finally:
        for p in (victim, survivor):
            if p.poll() is None:
                p.kill()
    trials = optuna.load_study(study_name="pg_kill", storage=storage).get_trials()
    storage.engine.dispose()
    assert not [t.number for t in trials if not t.state.is_finished()], "nothing left RUNNING or WAITING"
    from archspace.search.record import TrialRecord, is_interrupted

    dead = next(t for t in trials if t.number == killed)
    assert dead.state == optuna.trial.TrialState.FAIL and is_interrupted(dead)
    error = TrialRecord.from_trial(dead).error
    assert error == "interrupted: its worker stopped sending heartbeats; retried"
    retry = [t for t in trials if t.user_attrs.get("retry_of") == killed]
    assert len(retry) == 1 and retry[0].params == dead.params and retry[0].state == optuna.trial.TrialState.COMPLETE
    assert _parent(int(retry[0].user_attrs["owner"].split(":")[1])) != victim.pid
    counted = [t for t in trials if not is_interrupted(t)]
    assert len(counted) == 6 and all(t.state == optuna.trial.TrialState.COMPLETE for t in counted)
    df = pd.read_csv(tmp_path / "survivor" / "trials.csv")
    assert "RUNNING" not in set(df["state"]) and (df["error"].dropna() == error).all()
