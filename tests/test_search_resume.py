"""Crash safety of `archspace search`: kill -9 of the running command, then the same command again."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from archspace.errors import ArchspaceError
from archspace.search.worker import owner_alive
from searchutils import tiny_config

ROOT = Path(__file__).resolve().parent.parent


def command(cfg: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "archspace.cli", "search", str(cfg), "--out", str(out), "--quiet"]


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def finished(out: Path) -> pd.DataFrame:
    path = out / "trials.csv"
    if not path.is_file():
        return pd.DataFrame(columns=["state"])
    df = pd.read_csv(path, dtype={"genotype_id": str})
    return df[df["state"] != "RUNNING"]


def kill_when(out: Path, proc: subprocess.Popen, at_least: int, timeout: float = 400) -> pd.DataFrame:
    """SIGKILL the search once `at_least` trials have finished; returns the table seen just before."""
    t0 = time.time()
    while len(finished(out)) < at_least:
        assert proc.poll() is None, "the search ended before it could be killed"
        assert time.time() - t0 < timeout, "no progress"
        time.sleep(0.2)
    before = finished(out)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return before


def owners_gone(out: Path, timeout: float = 10) -> bool:
    """No process that owned a trial of the run is alive (workers die with their runner)."""
    import optuna

    from archspace.search.rundir import RunDir

    t0 = time.time()
    try:
        owners = {t.user_attrs.get("owner") for t in RunDir(out).load_study().trials}
    except (ArchspaceError, KeyError):  # killed before the run folder or the study existed
        return True
    while any(owner_alive(o) for o in owners if o):
        if time.time() - t0 > timeout:
            return False
        time.sleep(0.2)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return True


def check_resumed(out: Path, trials: int, kept: list[pd.DataFrame]) -> pd.DataFrame:
    df = pd.read_csv(out / "trials.csv", dtype={"genotype_id": str})
    assert df["number"].is_unique
    interrupted = df["error"].astype("string").fillna("").str.startswith("interrupted")
    assert (df.loc[interrupted, "state"] == "FAIL").all()
    assert len(df[~interrupted]) == trials and set(df["state"]) <= {"COMPLETE", "INFEASIBLE", "FAIL"}
    for before in kept:  # every trial finished before a kill is still there, unchanged
        merged = before.merge(df, on="number", suffixes=("_before", ""))
        assert len(merged) == len(before)
        assert (merged["genotype_id_before"].fillna("") == merged["genotype_id"].fillna("")).all()
        assert (merged["state_before"] == merged["state"]).all()
        pd.testing.assert_series_equal(merged["score_before"], merged["score"], check_names=False)
    done = df[df["state"] == "COMPLETE"]
    assert all((out / "genotypes" / f"{g}.json").is_file() for g in done["genotype_id"])
    return df


def test_kill_9_mid_search_then_the_same_command_resumes(tmp_path):
    cfg = tiny_config(tmp_path, trials=7, budgets={}, workers=2)
    out = tmp_path / "run"
    proc = subprocess.Popen(command(cfg, out), env=env(), cwd=tmp_path)
    before = kill_when(out, proc, at_least=2)
    assert owners_gone(out), "a worker outlived its killed runner"
    pd.read_csv(out / "trials.csv")  # still parses after the kill
    done = subprocess.run(command(cfg, out), env=env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    check_resumed(out, 7, [before])


@pytest.mark.slow
def test_ten_kills_at_random_times_lose_no_trial(tmp_path):
    rng = random.Random(0)
    cfg = tiny_config(tmp_path, trials=12)
    out = tmp_path / "run"
    kept = []
    for _ in range(10):
        proc = subprocess.Popen(command(cfg, out), env=env(), cwd=tmp_path)
        time.sleep(rng.uniform(3.0, 30.0))
        if proc.poll() is not None:
            break
        kept.append(finished(out))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert owners_gone(out)
    done = subprocess.run(command(cfg, out), env=env(), cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    check_resumed(out, 12, kept)


def kill_a_running_worker(cfg, out, cwd):
    """Run the search, SIGKILL the worker of the first trial seen running with a genotype, wait for the search to
    finish (exit 0); returns the killed trial as it was seen."""
    from archspace.search.rundir import RunDir

    proc = subprocess.Popen(command(cfg, out), env=env(), cwd=cwd)
    victim, t0 = None, time.time()
    while victim is None:
        assert proc.poll() is None and time.time() - t0 < 400
        time.sleep(0.2)
        if (out / "run.json").is_file():
            running = [t for t in RunDir(out).load_study().trials if t.state.name == "RUNNING" and "genotype_id" in t.user_attrs]
            victim = running[0] if running else None
    os.kill(int(victim.user_attrs["owner"].split(":")[1]), signal.SIGKILL)
    assert proc.wait(timeout=600) == 0
    return victim


@pytest.mark.slow
def test_a_worker_killed_by_a_signal_fails_its_trial_and_the_search_goes_on(tmp_path):
    cfg = tiny_config(tmp_path, trials=4, budgets={})
    out = tmp_path / "run"
    victim = kill_a_running_worker(cfg, out, tmp_path)
    df = pd.read_csv(out / "trials.csv")
    assert len(df) == 4 and df["number"].is_unique
    row = df[df["number"] == victim.number].iloc[0]
    assert row["state"] == "FAIL" and row["error"] == "worker killed by signal SIGKILL"
    assert (df[df["number"] != victim.number]["state"] == "COMPLETE").all()


@pytest.mark.slow
def test_a_trial_past_its_timeout_is_stopped_and_the_search_goes_on(tmp_path):
    cfg = tiny_config(tmp_path, trials=3, budgets={}, trial_timeout_s=0.05)
    out = tmp_path / "run"
    done = subprocess.run(command(cfg, out), env=env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    df = pd.read_csv(out / "trials.csv")
    assert len(df) == 3 and (df["state"] == "FAIL").all()
    assert df["error"].str.startswith("timed out after 0.05 s").all()


@pytest.mark.slow
def test_a_killed_workers_trial_is_retried_up_to_kill_retries(tmp_path):
    from archspace.search.rundir import RunDir

    cfg = tiny_config(tmp_path, trials=3, budgets={}, kill_retries=1)
    out = tmp_path / "run"
    victim = kill_a_running_worker(cfg, out, tmp_path)
    df = pd.read_csv(out / "trials.csv")
    row = df[df["number"] == victim.number].iloc[0]
    assert row["state"] == "FAIL" and row["error"] == "worker killed by signal SIGKILL; retried"
    study = RunDir(out).load_study()
    retry = [t for t in study.trials if t.user_attrs.get("retry_of") == victim.number]
    assert len(retry) == 1 and retry[0].params == victim.params and retry[0].state.name == "COMPLETE"
    assert len(df) == 4 and (df[df["number"] != victim.number]["state"] == "COMPLETE").all()
    from archspace.search.config import load_config
    from archspace.search.progress import summary

    s = summary(df, load_config(cfg))
    assert s["done"] == 3 and s["failed"] == 0 and s["interrupted"] == 1
