"""`archspace search CONFIG --backend ray`: the same orchestration with Ray Tune running the evaluations on a cluster.

The driver (this process) owns the Optuna study: a thin Ray Tune searcher (`StudySearcher`) claims and
prepares each trial with the shared `orchestrate.ask` (invalid and over-budget samples are told at once,
as with local workers) and hands only feasible genotypes to Ray. Trials evaluate on Ray workers
(`evaluate_on_worker`) with the driver's set-up evaluator (through Ray's object store), and need neither
the run folder nor the storage. When the evaluator reports per epoch, Ray's ASHA scheduler stops poor
trials early: Optuna pruners do not run under Ray, and a trial ASHA stopped is recorded PRUNED with the
epoch it reached (never COMPLETE with truncated values, so it stays off the Pareto front). A trial past
`trial_timeout_s` has its Ray actor killed and is recorded FAIL, as a local worker's would be. Trials of a
driver that died are recovered as the local backend's are (`study.recover`, or heartbeats on a server
storage). Asking for more CPUs or GPUs per trial than any node has is refused up front.
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.tune import Callback
from ray.tune.search import Searcher

from archspace.errors import ArchspaceError
from archspace.search.config import SearchConfig
from archspace.search.orchestrate import TIMEOUT, Orchestration, ask, search_with
from archspace.search.ray_cluster import check_resources, connect, node_resources  # noqa: F401 (connect: public here)
from archspace.search.study import interrupt
from archspace.search.trial import one_line, tell_result, tell_stopped

FINAL = "archspace_final"  # set in the last report of a trial that ran to its end


# -- the Ray side -----------------------------------------------------------------------------------
_DATA: dict[str, Any] = {}


def evaluate_on_worker(config: dict[str, Any], setup: dict[str, Any]) -> None:
    """Ray Tune function trainable: evaluate one genotype, reporting every epoch (ASHA's signal) and a final result."""
    import json

    import torch
    from ray import tune

    from archspace.evaluate.data import load_data
    from archspace.genotype.io import genotype_from_dict

    torch.set_num_threads(max(1, int(setup["threads"])))
    key = json.dumps(setup["data"], sort_keys=True)
    try:
        if key not in _DATA:
            _DATA.clear()
            _DATA[key] = load_data(setup["data"])

        def report(step: int, value: float) -> None:
            tune.report({"score": float(value) if math.isfinite(value) else -math.inf, "epoch": int(step), FINAL: False})

        genotype = genotype_from_dict(json.loads(config["genotype"]))
        result = setup["evaluator"].evaluate(genotype, _DATA[key], seed=setup["seed"], device=setup["device"], report=report)
        final = {k: float(v) for k, v in result.items() if isinstance(v, (int, float))}
    except Exception as err:  # noqa: BLE001 -- reported as the trial's one-line error, recorded FAIL by the driver
        tune.report({FINAL: True, "error": one_line(err)})
        return
    tune.report({**final, FINAL: True})


# -- the driver side --------------------------------------------------------------------------------
class StudySearcher(Searcher):
    """Ray Tune searcher over the run's Optuna study: asks and prepares in the driver (`orchestrate.ask`); tells results back."""

    def __init__(self, orch: Orchestration):
        super().__init__(metric="score", mode="max")
        from archspace.search.liveness import Heartbeat, owner_tag

        self.orch, self.study = orch, orch.study
        self.tag, self.heartbeat, self.live, self.timed_out = owner_tag(), Heartbeat(orch.study), {}, set()

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def save(self, checkpoint_path: str) -> None:
        """Nothing to save: the Optuna study in the storage is this searcher's whole state."""

    def restore(self, checkpoint_path: str) -> None:
        """Nothing to restore: resuming reopens the study (see `search_ray`)."""

    def suggest(self, trial_id: str):
        from archspace.genotype import canonical_json

        while True:
            asked = ask(self.orch.ctx, self.study, self.orch.cfg.trials, self.tag, self.heartbeat)
            if asked is None:
                return Searcher.FINISHED
            trial, ready = asked
            if not isinstance(ready, str):
                self.live[trial_id] = (trial, ready)
                return {"number": trial.number, "genotype": canonical_json(ready.adapted)}
            self.heartbeat.discard(trial._trial_id)  # noqa: SLF001
            self.orch.export()

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        trial, ready = self.live.pop(trial_id)
        result = result or {}
        try:
            if error:
                why = TIMEOUT.format(self.orch.cfg.trial_timeout_s) if trial_id in self.timed_out else \
                    "the Ray trial failed (its worker died or raised)"
                state = tell_stopped(self.study, trial, TrialState.FAIL, why, ready.start)
            elif result.get(FINAL) and result.get("error"):
                state = tell_stopped(self.study, trial, TrialState.FAIL, str(result["error"]), ready.start)
            elif result.get(FINAL):
                values = {k: v for k, v in result.items() if k in ready_keys(result)}
                state = tell_result(self.orch.ctx, self.study, trial, ready, values)
            else:  # the scheduler stopped it: PRUNED at the epoch it reached, never COMPLETE with truncated values
                epoch = result.get("epoch")
                if epoch is not None:
                    trial.set_user_attr("step", int(epoch))
                at = f" at epoch {int(epoch)}" if epoch is not None else " before its first epoch"
                state = tell_stopped(self.study, trial, TrialState.PRUNED, f"stopped by ASHA{at}", ready.start)
        except Exception as err:  # noqa: BLE001 -- e.g. a non-finite score
            state = tell_stopped(self.study, trial, TrialState.FAIL, one_line(err), ready.start)
        self.heartbeat.discard(trial._trial_id)  # noqa: SLF001
        self.orch.say(f"[{self.orch.done() - len(self.live)}/{self.orch.cfg.trials}] trial {trial.number}: {state}")
        self.orch.export(force=True)  # a finished trial's row is written now, not at the next event

    def release(self) -> int:
        """Trials still in flight when the driver stops (Ctrl-C, error): FAIL "interrupted", retried next run."""
        n = 0
        for trial, _ in self.live.values():
            t = self.study._storage.get_trial(trial._trial_id)  # noqa: SLF001 -- the stored state, not the asked copy
            if t.state == TrialState.RUNNING:
                n += interrupt(self.study, t, "the Ray driver stopped")
        self.live.clear()
        self.heartbeat.close()
        return n


class Deadline(Callback):
    """`trial_timeout_s` under Ray: a trial running longer has its actor killed (recorded FAIL by the searcher)."""

    def __init__(self, timeout: float, timed_out: set[str]):
        self.timeout, self.timed_out, self.started = timeout, timed_out, {}  # timed_out: the searcher's set, filled here

    def on_trial_start(self, iteration: int, trials: list, trial, **info) -> None:
        self.started[trial.trial_id] = time.monotonic()

    def on_step_begin(self, iteration: int, trials: list, **info) -> None:
        import ray

        for t in trials:
            start = self.started.get(t.trial_id)
            if t.status == "RUNNING" and start is not None and time.monotonic() - start > self.timeout:
                actor = t.temporary_state.ray_actor
                if actor is not None and t.trial_id not in self.timed_out:
                    self.timed_out.add(t.trial_id)
                    ray.kill(actor)


def ready_keys(result: dict) -> set[str]:
    """The evaluator's own keys in a final Ray result (Ray adds its bookkeeping: time_*, pid, date, ...)."""
    ray_keys = {"epoch", FINAL, "error", "timestamp", "training_iteration", "time_this_iter_s", "time_total_s", "pid", "node_ip",
                "time_since_restore", "iterations_since_restore", "done", "hostname", "date", "trial_id", "experiment_tag",
                "should_checkpoint", "checkpoint_dir_name", "config"}
    return {k for k, v in result.items() if k not in ray_keys and not k.startswith("config/")  # Ray's flattened trial config
            and isinstance(v, (int, float)) and not isinstance(v, bool)}


def make_scheduler(evaluator):
    """ASHA (on the score, per epoch) when the evaluator reports per epoch; no early stopping otherwise."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    epochs = evaluator.reported_epochs
    if not epochs:
        return FIFOScheduler()
    # one iteration per epoch plus the final report: max_t = epochs + 1 lets every surviving trial finish
    return ASHAScheduler(time_attr="training_iteration", metric="score", mode="max", max_t=epochs + 1, grace_period=1, reduction_factor=2)


class RayBackend:
    """Evaluations on a Ray cluster (joined at `address`, or a local instance for the run)."""

    who = "Ray"

    def __init__(self, address: str | None = None, cpus_per_trial: float = 1, gpus_per_trial: float | None = None,
                 max_concurrent: int | None = None, num_cpus: int | None = None):
        self.address, self.cpus, self.gpus_per_trial = address, float(cpus_per_trial), gpus_per_trial
        self.max_concurrent, self.num_cpus, self.started = max_concurrent, num_cpus, False

    def check(self, cfg: SearchConfig) -> None:
        """The device and per-trial resources against the cluster's nodes (joining or starting it)."""
        self.gpus = (1.0 if cfg.device.startswith("cuda") else 0.0) if self.gpus_per_trial is None else float(self.gpus_per_trial)
        if self.gpus == 0 and cfg.device.startswith("cuda"):
            raise ArchspaceError(f"device {cfg.device}: under Ray a trial sees a GPU only with --gpus-per-trial > 0")
        self.started = connect(self.address, self.num_cpus) or self.started
        self.concurrency = check_resources(node_resources(), self.cpus, self.gpus)

    def run(self, orch: Orchestration) -> None:
        from ray import tune

        cfg = orch.cfg
        searcher = StudySearcher(orch)
        setup = {"evaluator": orch.ctx.evaluator, "data": cfg.data, "seed": cfg.seed, "threads": max(1, int(self.cpus)),
                 "device": "cuda" if self.gpus > 0 else cfg.device}
        trainable = tune.with_resources(tune.with_parameters(evaluate_on_worker, setup=setup), {"cpu": self.cpus, "gpu": self.gpus})
        concurrent = max(1, min(self.concurrency, cfg.trials, self.max_concurrent or self.concurrency))
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(search_alg=searcher, scheduler=make_scheduler(orch.ctx.evaluator), num_samples=-1,
                                        max_concurrent_trials=concurrent, reuse_actors=True),
            run_config=tune.RunConfig(name=f"{cfg.name}-{int(time.time())}", storage_path=str((orch.run.path / ".ray").resolve()),
                                      verbose=0, log_to_file=False,
                                      callbacks=[Deadline(cfg.trial_timeout_s, searcher.timed_out)] if cfg.trial_timeout_s else None),
        )
        try:
            tuner.fit()
        finally:
            searcher.release()
            orch.export(force=True)

    def close(self) -> None:
        import ray

        if self.started:
            ray.shutdown()
            self.started = False


def search_ray(cfg: SearchConfig, out: str | Path, storage: str | None = None, address: str | None = None,
               cpus_per_trial: float = 1, gpus_per_trial: float | None = None, max_concurrent: int | None = None,
               num_cpus: int | None = None, quiet: bool = False):
    """Run (or resume) `cfg` into `out` with Ray Tune; returns (RunDir, summary) like `runner.search`.

    Trials run at once as the resources allow (capped by `max_concurrent`); `num_cpus` sizes a local instance."""
    from archspace.evaluate.registry import make_evaluator

    if cfg.pruner != "none" and not quiet:
        reports = make_evaluator(cfg.evaluator).reported_epochs
        print(f"pruner: {cfg.pruner} is an Optuna pruner and does not run under Ray; "
              f"{'ASHA stops trials early' if reports else 'the evaluator reports no epochs to stop at'}", file=sys.stderr)
    if quiet:
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's experiment table and hints, printed even at verbose=0
    backend = RayBackend(address, cpus_per_trial, gpus_per_trial, max_concurrent, num_cpus)
    try:
        return search_with(backend, cfg, out, storage, quiet)
    finally:
        backend.close()
