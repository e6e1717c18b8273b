"""`archspace search CONFIG --backend ray`: the same search with Ray Tune running the evaluations on a cluster.

The driver (this process) owns the Optuna study: a thin Ray Tune searcher (`StudySearcher`) asks the
study with the config's sampler, samples, costs and budget-checks each trial here (invalid and
over-budget ones are told at once, as in the Optuna backend), and hands only feasible genotypes to Ray.
Trials evaluate on Ray workers (`evaluate_on_worker`), which need neither the run folder nor the storage.
With the training evaluator Ray's ASHA scheduler stops poor trials early: Optuna pruners do not run
under Ray, and a trial ASHA stopped is recorded PRUNED with the epoch it reached (never COMPLETE with
truncated values, so it stays off the Pareto front). Trials of a driver that died stay RUNNING in the
storage until the next run of the same command, which records them FAIL "interrupted" and retries them
(`runner.recover`). Asking for more CPUs or GPUs per trial than any node has is refused up front.
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
from ray.tune.search import Searcher

from archspace.errors import ArchspaceError
from archspace.search.config import SearchConfig

FINAL = "archspace_final"  # set in the last report of a trial that ran to its end


# -- the Ray side -----------------------------------------------------------------------------------
_WORKER_CACHE: dict[str, Any] = {}


def evaluate_on_worker(config: dict[str, Any], setup: dict[str, Any]) -> None:
    """Ray Tune function trainable: evaluate one genotype, reporting every epoch (ASHA's signal) and a final result."""
    import json

    import torch
    from ray import tune

    from archspace.evaluate.data import load_data
    from archspace.evaluate.evaluator import make_evaluator
    from archspace.genotype.io import genotype_from_dict
    from archspace.search.trial import one_line

    torch.set_num_threads(max(1, int(setup["threads"])))
    key = json.dumps([setup["evaluator"], setup["data"]], sort_keys=True)
    try:
        if key not in _WORKER_CACHE:
            _WORKER_CACHE.clear()
            _WORKER_CACHE[key] = (make_evaluator(setup["evaluator"]), load_data(setup["data"]))
        evaluator, bundle = _WORKER_CACHE[key]

        def report(step: int, value: float) -> None:
            tune.report({"score": float(value) if math.isfinite(value) else -math.inf, "epoch": int(step), FINAL: False})

        genotype = genotype_from_dict(json.loads(config["genotype"]))
        result = evaluator.evaluate(genotype, bundle, seed=setup["seed"], device=setup["device"], report=report)
        final = {k: float(v) for k, v in result.items() if isinstance(v, (int, float))}
    except Exception as err:  # noqa: BLE001 -- reported as the trial's one-line error, recorded FAIL by the driver
        tune.report({FINAL: True, "error": one_line(err)})
        return
    tune.report({**final, FINAL: True})


# -- resources ----------------------------------------------------------------------------------------
def node_resources() -> list[dict[str, float]]:
    """CPU and GPU counts of every alive node of the connected Ray cluster."""
    import ray

    return [{"CPU": float(n["Resources"].get("CPU", 0)), "GPU": float(n["Resources"].get("GPU", 0))}
            for n in ray.nodes() if n.get("Alive")]


def check_resources(nodes: list[dict[str, float]], cpus: float, gpus: float) -> int:
    """How many trials can run at once; one line naming what exists when a trial fits on no node (Ray would wait forever)."""
    def describe() -> str:
        return ", ".join(f"{n['CPU']:g} CPU/{n['GPU']:g} GPU" for n in nodes) or "no alive node"

    if cpus <= 0 or gpus < 0:
        raise ArchspaceError(f"--cpus-per-trial {cpus:g} / --gpus-per-trial {gpus:g}: a trial needs > 0 CPUs and >= 0 GPUs")
    fits = [n for n in nodes if n["CPU"] >= cpus and n["GPU"] >= gpus]
    if not fits:
        what = f"--gpus-per-trial {gpus:g}" if gpus and all(n["GPU"] < gpus for n in nodes) else f"--cpus-per-trial {cpus:g}"
        raise ArchspaceError(f"{what}: no node of the Ray cluster has that many (nodes: {describe()}); ask for fewer")
    return sum(min(int(n["CPU"] // cpus), int(n["GPU"] // gpus) if gpus else 10**6) for n in fits)


def connect(address: str | None, num_cpus: int | None) -> bool:
    """Join the cluster at `address`, reuse this process's Ray, or start a local instance; True if we started one."""
    import ray

    if ray.is_initialized():
        return False
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            return False
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    except ConnectionError as err:
        raise ArchspaceError(f"--address {address}: cannot join the Ray cluster: {str(err).splitlines()[0]}") from None
    return True


# -- the driver side --------------------------------------------------------------------------------
class StudySearcher(Searcher):
    """Ray Tune searcher over the run's Optuna study: asks, samples and budget-checks in the driver; tells results back."""

    def __init__(self, ctx, study: optuna.Study, target: int, export, say):
        super().__init__(metric="score", mode="max")
        from archspace.search.worker import owner_tag

        self.ctx, self.study, self.target, self.export, self.say = ctx, study, target, export, say
        self.tag, self.live = owner_tag(), {}

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def save(self, checkpoint_path: str) -> None:
        """Nothing to save: the Optuna study in the storage is this searcher's whole state."""

    def restore(self, checkpoint_path: str) -> None:
        """Nothing to restore: resuming reopens the study (see `search_ray`)."""

    def suggest(self, trial_id: str):
        from archspace.search.runner import make_sampler
        from archspace.search.storage import claim_lock
        from archspace.search.trial import one_line, prepare_trial, tell_stopped
        from archspace.search.worker import counted, sampler_seed
        from archspace.genotype import canonical_json

        run, cfg = self.ctx.run, self.ctx.cfg
        while True:
            with claim_lock(run.storage_url, run.study_name, run.path / ".ask.lock"):
                index = len(counted(self.study.get_trials(deepcopy=False)))
                if index >= self.target:
                    return Searcher.FINISHED
                self.study.sampler = make_sampler(cfg, sampler_seed(cfg.seed, index))
                trial = self.study.ask()
                trial.set_user_attr("owner", self.tag)
            start = time.perf_counter()
            try:
                ready = prepare_trial(self.ctx, self.study, trial)
            except Exception as err:  # noqa: BLE001 -- recorded, never fatal
                ready = tell_stopped(self.study, trial, TrialState.FAIL, one_line(err), start)
            if not isinstance(ready, str):
                self.live[trial_id] = (trial, ready)
                return {"number": trial.number, "genotype": canonical_json(ready.adapted)}
            self.export()

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        from archspace.search.trial import tell_result, tell_stopped

        trial, ready = self.live.pop(trial_id)
        result = result or {}
        try:
            if error:
                state = tell_stopped(self.study, trial, TrialState.FAIL, "the Ray trial failed (its worker died or raised)", ready.start)
            elif result.get(FINAL) and result.get("error"):
                state = tell_stopped(self.study, trial, TrialState.FAIL, str(result["error"]), ready.start)
            elif result.get(FINAL):
                values = {k: v for k, v in result.items() if k in ready_keys(result)}
                state = tell_result(self.ctx, self.study, trial, ready, values)
            else:  # the scheduler stopped it: PRUNED at the epoch it reached, never COMPLETE with truncated values
                epoch = result.get("epoch")
                if epoch is not None:
                    trial.set_user_attr("step", int(epoch))
                at = f" at epoch {int(epoch)}" if epoch is not None else " before its first epoch"
                state = tell_stopped(self.study, trial, TrialState.PRUNED, f"stopped by ASHA{at}", ready.start)
        except Exception as err:  # noqa: BLE001 -- e.g. a non-finite score
            from archspace.search.trial import one_line

            state = tell_stopped(self.study, trial, TrialState.FAIL, one_line(err), ready.start)
        self.say(trial.number, state)
        self.export()

    def release(self) -> int:
        """Trials still in flight when the driver stops (Ctrl-C, error): FAIL "interrupted", retried next run."""
        from archspace.search.runner import RETRIES, _fail

        n = 0
        for trial, _ in self.live.values():
            t = self.study._storage.get_trial(trial._trial_id)
            if t.state == TrialState.RUNNING and _fail(self.study, t, "interrupted: the Ray driver stopped; retried", interrupted=True):
                n += 1
                if t.params and int(t.user_attrs.get("retries", 0)) < RETRIES:
                    self.study.enqueue_trial(t.params, user_attrs={"retry_of": t.number, "retries": int(t.user_attrs.get("retries", 0)) + 1},
                                             skip_if_exists=False)
        self.live.clear()
        return n


def ready_keys(result: dict) -> set[str]:
    """The evaluator's own keys in a final Ray result (Ray adds its bookkeeping: time_*, pid, date, ...)."""
    ray_keys = {"epoch", FINAL, "error", "timestamp", "training_iteration", "time_this_iter_s", "time_total_s", "pid", "node_ip",
                "time_since_restore", "iterations_since_restore", "done", "hostname", "date", "trial_id", "experiment_tag",
                "should_checkpoint", "checkpoint_dir_name", "config"}
    return {k for k, v in result.items() if k not in ray_keys and isinstance(v, (int, float)) and not isinstance(v, bool)}


def make_scheduler(cfg: SearchConfig):
    """ASHA (on the score, per epoch) when the evaluator reports per epoch; no early stopping otherwise."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    from archspace.evaluate.registry import make_evaluator

    epochs = make_evaluator(cfg.evaluator).reported_epochs
    if not epochs:
        return FIFOScheduler()
    # one iteration per epoch plus the final report: max_t = epochs + 1 lets every surviving trial finish
    return ASHAScheduler(time_attr="training_iteration", metric="score", mode="max", max_t=epochs + 1, grace_period=1, reduction_factor=2)


def search_ray(cfg: SearchConfig, out: str | Path, storage: str | None = None, address: str | None = None,
               cpus_per_trial: float = 1, gpus_per_trial: float | None = None, max_concurrent: int | None = None,
               num_cpus: int | None = None, quiet: bool = False):
    """Run (or resume) `cfg` into `out` with Ray Tune; returns (RunDir, summary) like `runner.search`.

    Trials run at once as the resources allow (capped by `max_concurrent`); `num_cpus` sizes a local instance."""
    from archspace.evaluate.evaluator import make_evaluator
    from archspace.search.rundir import JOURNAL
    from archspace.search.runner import (_run_lock, enqueue_anchors, export_trials, load_context, make_sampler, open_study,
                                         prepare_run, recover, summary)
    from archspace.search.space import SearchSpace
    from archspace.search.storage import claim_lock, publish_run
    from archspace.search.worker import counted

    out = Path(out)
    space = SearchSpace.from_file(cfg.space)
    reports = make_evaluator(cfg.evaluator).reported_epochs
    make_sampler(cfg, cfg.seed)
    gpus = (1.0 if cfg.device.startswith("cuda") else 0.0) if gpus_per_trial is None else float(gpus_per_trial)
    if gpus == 0 and cfg.device.startswith("cuda"):
        raise ArchspaceError(f"device {cfg.device}: under Ray a trial sees a GPU only with --gpus-per-trial > 0")
    if cfg.pruner != "none" and not quiet:
        print(f"pruner: {cfg.pruner} is an Optuna pruner and does not run under Ray; "
              f"{'ASHA stops trials early' if reports else 'the evaluator reports no epochs to stop at'}",
              file=sys.stderr)
    if quiet:
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's experiment table and hints, printed even at verbose=0
    started = connect(address, num_cpus)
    import ray
    from ray import tune

    try:
        concurrency = check_resources(node_resources(), float(cpus_per_trial), gpus)
        run = prepare_run(cfg, out, storage)
        with _run_lock(run):
            study = open_study(run, cfg)
            publish_run(study, run)
            recovered = recover(study, run.meta["storage"] == JOURNAL)
            with claim_lock(run.storage_url, run.study_name, run.path / ".ask.lock"):
                if not study.get_trials(deepcopy=False):
                    enqueue_anchors(study, cfg, space)
            if recovered and not quiet:
                print(f"resumed {run.path}: {recovered} interrupted trial(s) recorded FAIL and retried", file=sys.stderr)
            ctx = load_context(run.path)[0]
            last = [0.0]

            def export(force: bool = False) -> None:
                if force or time.monotonic() - last[0] > 1.0:
                    export_trials(run, study.get_trials(deepcopy=False))
                    last[0] = time.monotonic()

            def say(number: int, state: str) -> None:
                if not quiet:
                    done = len([t for t in counted(study.get_trials(deepcopy=False)) if t.state.is_finished()])
                    print(f"[{done}/{cfg.trials}] trial {number}: {state}", file=sys.stderr, flush=True)

            export(force=True)
            searcher = StudySearcher(ctx, study, cfg.trials, export, say)
            setup = {"evaluator": cfg.evaluator, "data": cfg.data, "seed": cfg.seed, "threads": max(1, int(cpus_per_trial)),
                     "device": "cuda" if gpus > 0 else cfg.device}
            trainable = tune.with_resources(tune.with_parameters(evaluate_on_worker, setup=setup), {"cpu": cpus_per_trial, "gpu": gpus})
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(search_alg=searcher, scheduler=make_scheduler(cfg), num_samples=-1,
                                            max_concurrent_trials=max(1, min(concurrency, cfg.trials, max_concurrent or concurrency)),
                                            reuse_actors=True),
                run_config=tune.RunConfig(name=f"{cfg.name}-{int(time.time())}", storage_path=str((run.path / ".ray").resolve()),
                                          verbose=0, log_to_file=False),
            )
            try:
                tuner.fit()
            finally:
                searcher.release()
                export(force=True)
            df = run.trials()
    finally:
        if started:
            ray.shutdown()
    s = summary(df, cfg)
    if len(counted(study.get_trials(deepcopy=False))) < cfg.trials:
        raise ArchspaceError(f"{run.path}: Ray stopped before {cfg.trials} trials; run the same command to resume")
    return run, s
