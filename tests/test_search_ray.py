"""The Ray Tune backend against a real local Ray instance (2 CPUs) started by the tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from archspace.errors import ArchspaceError
from archspace.search.config import load_config
from archspace.search.rundir import COLUMNS, RunDir
from searchutils import tiny_config

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parent.parent
TRAIN = {"kind": "train", "epochs": 3, "batch_size": 16, "max_steps_per_epoch": 1}


@pytest.fixture(scope="module")
def cluster():
    """One local Ray instance for the module; yields its address (other drivers join it with --address)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _overlap(trials) -> bool:
    spans = [(t.datetime_start, t.datetime_complete) for t in trials if t.datetime_start and t.datetime_complete]
    return any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1:])


def test_asha_stopped_trials_are_pruned_and_off_the_front(tmp_path, cluster):
    from archspace.search.ray_backend import search_ray

    cfg = load_config(tiny_config(tmp_path, name="ray_asha", trials=8, evaluator=TRAIN, budgets={"flops": "40M"}))
    run, s = search_ray(cfg, tmp_path / "out", quiet=True)
    df = run.trials()
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert len(df) == 8 and set(df["state"]) <= {"COMPLETE", "PRUNED", "INFEASIBLE"}
    pruned, complete = df[df["state"] == "PRUNED"], df[df["state"] == "COMPLETE"]
    assert len(pruned) >= 1 and len(complete) >= 1, "ASHA (reduction factor 2) stops some of 8 trials and keeps some"
    # the pruning came from Ray's scheduler (Optuna pruners never run under Ray), at the epoch each trial reached
    assert pruned["error"].str.startswith("stopped by ASHA at epoch").all()
    assert pruned["step"].between(1, TRAIN["epochs"] - 1).all() and pruned["score"].isna().all()
    assert complete["score"].notna().all()
    study = run.load_study()
    assert {t.number for t in study.best_trials} <= set(complete["number"]), "no stopped trial on the Pareto front"
    assert s["pruned"] == len(pruned) and s["complete"] == len(complete)
    assert _overlap([t for t in study.trials if t.number in set(df["number"]) - set(df[df["state"] == "INFEASIBLE"]["number"])]), \
        "two trials ran at once on the 2 CPUs"


def test_over_asking_resources_is_refused_up_front(tmp_path, cluster):
    from archspace.search.ray_backend import search_ray

    cfg = load_config(tiny_config(tmp_path, name="ray_res"))
    for kwargs, what in (({"cpus_per_trial": 3}, "--cpus-per-trial 3"), ({"gpus_per_trial": 1}, "--gpus-per-trial 1")):
        with pytest.raises(ArchspaceError) as err:
            search_ray(cfg, tmp_path / "out", quiet=True, **kwargs)
        line = str(err.value)
        assert line.startswith(what) and "nodes: 2 CPU/0 GPU" in line and "\n" not in line
    assert not (tmp_path / "out").exists(), "refused before anything was written"


def test_proxy_search_runs_without_scheduler_and_fails_are_recorded(tmp_path, cluster):
    from archspace.search.ray_backend import search_ray

    cfg = load_config(tiny_config(tmp_path, name="ray_proxy", trials=5))
    run, s = search_ray(cfg, tmp_path / "out", quiet=True)
    df = run.trials()
    assert len(df) == 5 and "PRUNED" not in set(df["state"]) and "RUNNING" not in set(df["state"])
    done = df[df["state"] == "COMPLETE"]
    assert (done["eval:synflow"] == done["score"]).all()
    assert all(run.genotype_path(g).is_file() for g in done["genotype_id"])


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


@pytest.mark.slow
def test_driver_killed_then_resumed_leaves_nothing_running(tmp_path, cluster):
    from optuna.trial import TrialState

    cfg = tiny_config(tmp_path, name="ray_kill", trials=6, evaluator={**TRAIN, "epochs": 4}, budgets={"flops": "40M"})
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "archspace.cli", "search", str(cfg), "--out", str(out), "--quiet", "--backend", "ray", "--address", cluster]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while True:  # kill -9 the driver while a trial runs on Ray and one has finished
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() - t0 < 300, "no progress"
        if (out / "run.json").is_file() and (out / "study.journal").is_file():
            trials = RunDir(out).load_study().trials
            if any(t.state == TrialState.RUNNING for t in trials) and any(t.state.is_finished() for t in trials):
                break
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stale = {t.number for t in RunDir(out).load_study().trials if t.state == TrialState.RUNNING}
    assert stale

    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr
    study = RunDir(out).load_study()
    assert not [t for t in study.trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    for n in stale:
        t = study.trials[n]
        assert t.state == TrialState.FAIL and t.user_attrs["error"].startswith("interrupted")
    retried = [t for t in study.trials if "retry_of" in t.user_attrs]
    assert {t.user_attrs["retry_of"] for t in retried} == stale
    counted = [t for t in study.trials if not t.user_attrs.get("interrupted")]
    assert len(counted) == 6
    df = pd.read_csv(out / "trials.csv")
    assert "RUNNING" not in set(df["state"]) and len(df) == 6 + len(stale)
