"""One orchestration, two backends: a toy evaluator registered here (score = -params, nothing else edited) runs a
whole search through the local worker processes and through Ray; the per-trial timeout holds under both."""
from __future__ import annotations

import sys
import time
from typing import Literal

import pandas as pd
import pytest

from archspace.cost.analytic import analytic_cost
from archspace.evaluate.registry import (BaseEvaluator, EvaluatorConfig, SetupContext, evaluator_kinds, register_evaluator,
                                         unregister_evaluator)
from archspace.search.config import load_config
from archspace.search.rundir import COLUMNS
from archspace.search.runner import search
from searchutils import tiny_config


class ToyConfig(EvaluatorConfig):
    kind: Literal["toy"] = "toy"
    sleep_s: float = 0.0


class ToyEvaluator(BaseEvaluator):
    """Score = -params of the adapted genotype; `setup` counts the training images once per run (shared state)."""

    config_class = ToyConfig

    def setup(self, ctx: SetupContext) -> None:
        self.images = len(ctx.bundle.train)

    def evaluate(self, genotype, bundle, seed=0, device="cpu", report=None) -> dict[str, float]:
        time.sleep(self.cfg.sleep_s)
        return {"score": -float(analytic_cost(genotype).total.params), "images": float(self.images)}


@pytest.fixture
def toy():
    register_evaluator(ToyEvaluator)
    try:
        yield
    finally:
        unregister_evaluator("toy")
    assert "toy" not in evaluator_kinds()


def _check(df: pd.DataFrame, trials: int) -> None:
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS) and len(df) == trials
    done = df[df["state"] == "COMPLETE"]
    assert len(done) >= 1
    assert (done["score"] == -done["eval_params"]).all(), "the toy score is minus the evaluated network's parameters"
    assert (done["eval:images"] == 64).all(), "setup's state (64 training images) reached every trial"


def test_toy_evaluator_through_local_worker_processes(tmp_path, toy):
    cfg = load_config(tiny_config(tmp_path, name="toy_local", trials=5, workers=2, evaluator={"kind": "toy"}))
    assert cfg.evaluator == {"kind": "toy", "sleep_s": 0.0}
    run, s = search(cfg, tmp_path / "out", quiet=True)
    _check(run.trials(), 5)
    assert s["done"] == 5


def test_unknown_toy_field_is_one_line(tmp_path, toy):
    from archspace.errors import ArchspaceError

    with pytest.raises(ArchspaceError, match=r"evaluator\.sleep: unknown field"):
        load_config(tiny_config(tmp_path, evaluator={"kind": "toy", "sleep": 1}))


def test_local_trial_timeout(tmp_path, toy):
    cfg = load_config(tiny_config(tmp_path, name="toy_slow", trials=2, budgets={}, trial_timeout_s=2,
                                  evaluator={"kind": "toy", "sleep_s": 60}))
    run, _ = search(cfg, tmp_path / "out", quiet=True)
    df = run.trials()
    assert (df["state"] == "FAIL").all() and df["error"].str.startswith("timed out after 2 s (trial_timeout_s)").all()


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray workers need not import this test module
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_toy_evaluator_through_ray(tmp_path, toy, cluster):
    from archspace.search.ray_backend import search_ray

    cfg = load_config(tiny_config(tmp_path, name="toy_ray", trials=5, evaluator={"kind": "toy"}))
    run, s = search_ray(cfg, tmp_path / "out", quiet=True)
    _check(run.trials(), 5)
    assert s["done"] == 5


@pytest.mark.slow
def test_ray_trial_timeout(tmp_path, toy, cluster):
    from archspace.search.ray_backend import search_ray

    cfg = load_config(tiny_config(tmp_path, name="toy_ray_slow", trials=2, budgets={}, trial_timeout_s=3,
                                  evaluator={"kind": "toy", "sleep_s": 60}))
    t0 = time.monotonic()
    run, _ = search_ray(cfg, tmp_path / "out", quiet=True)
    df = run.trials()
    assert (df["state"] == "FAIL").all() and df["error"].str.startswith("timed out after 3 s (trial_timeout_s)").all()
    assert time.monotonic() - t0 < 50, "the slow trials were stopped, not waited for"
