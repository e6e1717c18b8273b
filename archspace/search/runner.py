"""`archspace search`: prepare or resume a run directory, run N worker processes on one Optuna study, supervise them.

The runner itself never evaluates: it creates the study (embedded journal file by default), enqueues
`seed_with` anchors, recovers trials a previous run left RUNNING (marked FAIL "interrupted" and retried
with the same parameters), then starts worker processes (`archspace.search.worker`) and watches the
storage: it stops a trial that runs past `trial_timeout_s` (its worker is killed and replaced, the trial
recorded FAIL), records a worker killed by a signal the same way, keeps `trials.csv` current, and
shows progress. Re-running the same command on the same `--out` resumes.
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import math
import os
import platform
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import optuna
from optuna.trial import TrialState

from archspace.errors import ArchspaceError
from archspace.search.config import SearchConfig, config_from_dict
from archspace.search.rundir import COLUMNS, JOURNAL, RunDir, open_storage, repair_journal
from archspace.search.storage import claim_lock, publish_run
from archspace.search.trial import TrialContext

RUN_SETTINGS = ("trials", "workers")  # may change between the runs of one search
POLL_S = 0.25
RETRIES = 2  # an interrupted trial is retried at most this many times


# -- samplers -------------------------------------------------------------------------------------
def make_sampler(cfg: SearchConfig, seed: int) -> optuna.samplers.BaseSampler:
    """The config's Optuna sampler, seeded. Budgets reach it through `trial.set_constraint`."""
    import warnings

    kinds = {
        "tpe": optuna.samplers.TPESampler,
        "nsgaii": optuna.samplers.NSGAIISampler,
        "gp": optuna.samplers.GPSampler,
        "random": optuna.samplers.RandomSampler,
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return kinds[cfg.sampler.kind](seed=seed, **cfg.sampler.options)
    except (TypeError, ValueError) as err:
        raise ArchspaceError(f"sampler.options: {err}") from None


def make_pruner(cfg: SearchConfig) -> optuna.pruners.BasePruner:
    if cfg.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if cfg.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


# -- the run directory ----------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("archspace", "torch", "timm", "optuna", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = ""
    return out


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            d = _first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else k)
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} there, {b!r} now"


def prepare_run(cfg: SearchConfig, out: Path, storage: str | None = None) -> RunDir:
    """Create the run folder (config.yaml, run.json) or check that `cfg` is the search it holds."""
    out.mkdir(parents=True, exist_ok=True)
    run = RunDir(out, must_exist=False)
    new = cfg.model_dump(mode="json")
    if (out / "run.json").is_file():
        run = RunDir(out)
        old = run.config.model_dump(mode="json")
        diff = _first_difference({k: v for k, v in old.items() if k not in RUN_SETTINGS},
                                 {k: v for k, v in new.items() if k not in RUN_SETTINGS})
        if diff:
            raise ArchspaceError(f"{out} holds a different search ({diff}); use another --out, or the same config to resume it")
        if storage and storage != run.meta["storage"]:
            raise ArchspaceError(f"{out} uses the storage {run.meta['storage']!r}; resume it without --storage or with the same one")
        run.write_text("config.yaml", cfg.to_yaml())
        return run
    if any(not p.name.startswith(".") and p.name != "config.yaml" for p in out.iterdir()):
        raise ArchspaceError(f"{out}: is not empty and holds no search run; give an empty or new --out folder")
    from archspace.cost.latency import device_fingerprint
    from archspace.evaluate.data import load_data
    from archspace.search.space import SearchSpace

    space = SearchSpace.from_file(cfg.space)
    bundle = load_data(cfg.data)
    run.write_text("config.yaml", cfg.to_yaml())
    meta = {
        "seed": cfg.seed,
        "study_name": cfg.name,
        "storage": storage or JOURNAL,
        "objectives": [{"name": o.name, "direction": o.direction} for o in cfg.objectives],
        "budgets": {k: v for k, v in cfg.budgets.items()},
        "target": {"image_size": cfg.target.image_size, "num_classes": cfg.target.num_classes},
        "eval": {"image_size": bundle.image_size, "in_chans": bundle.in_chans, "num_classes": bundle.num_classes, "dataset": bundle.name},
        "versions": _versions(),
        "device": device_fingerprint("cuda" if cfg.device.startswith("cuda") else "cpu", 1),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "space": {"name": space.name, "path": cfg.space, "anchors": list(space.anchors)},
    }
    run.write_json("run.json", meta)
    return RunDir(out)


def storage_of(run: RunDir):
    return open_storage(run.storage_url)


def open_study(run: RunDir, cfg: SearchConfig, sampler=None) -> optuna.Study:
    """Create or load the run's study; one line if its objectives differ from the config's."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            study_name=run.study_name, storage=storage_of(run), directions=cfg.directions,
            load_if_exists=True, sampler=sampler or make_sampler(cfg, cfg.seed), pruner=make_pruner(cfg),
        )
    except (optuna.exceptions.OptunaError, OSError, ValueError) as err:
        raise ArchspaceError(f"storage {run.meta['storage']}: {err}") from None
    if [d.name.lower() for d in study.directions] != cfg.directions:
        raise ArchspaceError(f"study {run.study_name!r} in {run.meta['storage']} has other objectives; use another --out")
    return study


def load_context(run_path: str | Path, for_worker: bool = False) -> tuple[TrialContext, optuna.Study | None]:
    """Everything a trial needs, rebuilt from the run folder (a worker process calls this)."""
    from archspace.evaluate.data import load_data
    from archspace.evaluate.evaluator import make_evaluator
    from archspace.search.constraints import Coster
    from archspace.search.space import SearchSpace

    run = RunDir(run_path)
    cfg = run.config
    ctx = TrialContext(run, cfg, SearchSpace.from_file(cfg.space), Coster.for_config(cfg), make_evaluator(cfg.evaluator), load_data(cfg.data))
    return ctx, (open_study(run, cfg) if for_worker else None)


# -- recovery and failure records -----------------------------------------------------------------
def _fail(study: optuna.Study, trial: optuna.trial.FrozenTrial, reason: str, interrupted: bool = False) -> bool:
    """Record a RUNNING trial as FAIL with `reason`; False if it finished meanwhile."""
    storage = study._storage
    try:
        storage.set_trial_user_attr(trial._trial_id, "error", reason)
        if interrupted:
            storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        if trial.datetime_start is not None:
            storage.set_trial_user_attr(trial._trial_id, "duration_s", (_now() - trial.datetime_start).total_seconds())
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
        return False
    return True


def _now() -> _dt.datetime:
    return _dt.datetime.now()


def recover(study: optuna.Study, embedded: bool) -> int:
    """Trials left RUNNING by a process that is gone: FAIL "interrupted", and retried with the same params."""
    from archspace.search.worker import owner_alive

    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        alive = owner_alive(t.user_attrs.get("owner"))
        if alive or (alive is None and not embedded):
            continue
        retries = int(t.user_attrs.get("retries", 0))
        again = bool(t.params) and retries < RETRIES
        reason = "interrupted: its process stopped before the trial finished" + ("; retried" if again else "")
        if _fail(study, t, reason, interrupted=True):
            n += 1
            if again:
                attrs = {k: v for k, v in t.user_attrs.items() if k in ("seeded_from",)}
                study.enqueue_trial(t.params, user_attrs={**attrs, "retry_of": t.number, "retries": retries + 1}, skip_if_exists=False)
    return n


def enqueue_anchors(study: optuna.Study, cfg: SearchConfig, space) -> int:
    """`seed_with`: zoo names or genotype files, enqueued as the first trials of a new study."""
    from archspace.genotype import load_genotype
    from archspace.zoo import zoo_genotype

    for name in cfg.seed_with:
        path = Path(name)
        try:
            g = load_genotype(path) if path.suffix in (".json", ".yaml", ".yml") else zoo_genotype(name)
            params = space.encode(g)
        except ArchspaceError as err:
            raise ArchspaceError(f"seed_with: {name}: {err}") from None
        study.enqueue_trial(params, user_attrs={"seeded_from": name})
    return len(cfg.seed_with)


# -- the trials table -----------------------------------------------------------------------------
def state_of(t: optuna.trial.FrozenTrial) -> str:
    if t.state == TrialState.COMPLETE and float(t.user_attrs.get("violation", 0.0)) > 0:
        return "INFEASIBLE"
    return t.state.name


def trials_frame(study_trials: list[optuna.trial.FrozenTrial]):
    """The trials table: COLUMNS, then "gene:<path>" per gene, then "eval:<key>" extras from the evaluator."""
    import pandas as pd

    rows, genes, extras, objectives = [], set(), set(), set()
    for t in study_trials:
        if t.state == TrialState.WAITING:
            continue
        a = t.user_attrs
        duration = a.get("duration_s")
        if duration is None and t.datetime_start is not None and t.datetime_complete is not None:
            duration = (t.datetime_complete - t.datetime_start).total_seconds()
        row = {
            "number": t.number, "state": state_of(t), "genotype_id": a.get("genotype_id"), "score": a.get("score"),
            "flops": a.get("flops"), "params": a.get("params"), "latency_ms": a.get("latency_ms"), "memory_mb": a.get("memory_mb"),
            "eval_image_size": a.get("eval_image_size"), "eval_flops": a.get("eval_flops"), "eval_params": a.get("eval_params"),
            "violation": a.get("violation"), "duration_s": duration, "error": a.get("error"), "step": a.get("step"),
        }
        for k, v in t.params.items():
            row[f"gene:{k}"] = v if not isinstance(v, (list, tuple, dict)) else str(v)
            genes.add(f"gene:{k}")
        for k, v in a.items():
            if k.startswith("eval:"):
                row[k] = v
                extras.add(k)
            elif k.startswith("objective:"):  # an evaluator metric the config optimises: a column under its own name
                row[k.removeprefix("objective:")] = v
                objectives.add(k.removeprefix("objective:"))
        rows.append(row)
    columns = [*COLUMNS, *sorted(objectives), *sorted(genes), *sorted(extras)]
    df = pd.DataFrame(rows, columns=columns)
    for c in ("number", "eval_image_size", "eval_flops", "eval_params", "flops", "params", "step"):
        df[c] = df[c].astype("Int64")
    return df.sort_values("number").reset_index(drop=True)


def export_trials(run: RunDir, study_trials: list[optuna.trial.FrozenTrial]):
    df = trials_frame(study_trials)
    run.write_text("trials.csv", df.to_csv(index=False))
    return df


# -- progress -------------------------------------------------------------------------------------
def front_size(values: list[list[float]], directions: list[str]) -> int:
    """Number of non-dominated points (all objectives turned into minimisation)."""
    pts = [[-v if d == "maximize" else v for v, d in zip(vals, directions)] for vals in values]
    return sum(
        not any(all(q[i] <= p[i] for i in range(len(p))) and any(q[i] < p[i] for i in range(len(p))) for q in pts)
        for p in pts
    )


def summary(df, cfg: SearchConfig) -> dict[str, Any]:
    """Counts per state, feasible share, best score (single objective) or Pareto front size."""
    counts = df["state"].value_counts().to_dict() if len(df) else {}
    interrupted = int(df["error"].astype("string").fillna("").str.startswith("interrupted").sum()) if len(df) else 0
    invalid = int(df["error"].astype("string").fillna("").str.startswith("invalid").sum()) if len(df) else 0
    done = sum(counts.get(s, 0) for s in ("COMPLETE", "PRUNED", "FAIL", "INFEASIBLE")) - interrupted
    sampled = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) + counts.get("INFEASIBLE", 0) + counts.get("FAIL", 0) - interrupted
    feasible = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0)
    out = {
        "done": done, "running": counts.get("RUNNING", 0), "complete": counts.get("COMPLETE", 0),
        "infeasible": counts.get("INFEASIBLE", 0) - invalid, "invalid": invalid, "pruned": counts.get("PRUNED", 0),
        "failed": counts.get("FAIL", 0) - interrupted, "interrupted": interrupted,
        "feasible_share": feasible / sampled if sampled else math.nan,
    }
    ok = df[df["state"] == "COMPLETE"]
    names = [o.name for o in cfg.objectives]
    if len(ok):
        vals = ok[names].astype(float).values.tolist()
        if cfg.multi_objective:
            out["front_size"] = front_size(vals, cfg.directions)
        else:
            col = ok[names[0]].astype(float)
            best = col.idxmax() if cfg.directions[0] == "maximize" else col.idxmin()
            out["best"] = float(col[best])
            out["best_id"] = ok.loc[best, "genotype_id"]
    return out


def _describe(s: dict[str, Any], cfg: SearchConfig, asked: int) -> str:
    share = "feasible -" if math.isnan(s["feasible_share"]) else f"feasible {s['feasible_share']:.0%}"
    if cfg.multi_objective:
        best = f"front {s.get('front_size', 0)}"
    else:
        best = f"best {cfg.objectives[0].name} {s['best']:.4g}" if "best" in s else "no result yet"
    extra = f" · failed {s['failed']}" if s["failed"] else ""
    return f"asked {asked} · {share} · {best}{extra}"


@contextmanager
def _run_lock(run: RunDir) -> Iterator[None]:
    """One `archspace search` per run folder at a time (workers of one search share it)."""
    f = open(run.path / ".run.lock", "a+")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArchspaceError(
                f"{run.path}: another archspace search is running on this folder; wait for it, or give it more "
                "workers with --workers, or run several machines on one server storage (--storage postgresql://...)"
            ) from None
        yield
    finally:
        f.close()


# -- the search -----------------------------------------------------------------------------------
class Supervisor:
    """Starts, watches and replaces worker processes; keeps trials.csv and the progress display current."""

    def __init__(self, run: RunDir, cfg: SearchConfig, study: optuna.Study, target: int, workers: int, timeout: float | None):
        import multiprocessing as mp

        self.run, self.cfg, self.study, self.target, self.timeout = run, cfg, study, target, timeout
        self.workers = workers
        self.threads = max(1, len(os.sched_getaffinity(0)) // workers)  # the cores this process may use (taskset, cgroups)
        self.mp = mp.get_context("spawn")
        self.procs: list[Any] = []
        self.respawns = 0

    def spawn(self) -> None:
        from archspace.search.worker import worker_main

        p = self.mp.Process(target=worker_main, args=(str(self.run.path), self.target, self.threads, os.getpid()), daemon=False)
        p.start()
        self.procs.append(p)

    def owned(self, trials: list[optuna.trial.FrozenTrial]) -> dict[int, optuna.trial.FrozenTrial]:
        """RUNNING trials by the pid of the worker (of this runner) that runs them."""
        from archspace.search.worker import owner_tag

        tags = {owner_tag(p.pid): p.pid for p in self.procs if p.pid is not None}
        return {tags[t.user_attrs["owner"]]: t for t in trials if t.state == TrialState.RUNNING and t.user_attrs.get("owner") in tags}

    def stop_all(self) -> None:
        for p in self.procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGKILL)
        for p in self.procs:
            p.join()
        self.procs.clear()

    def step(self, trials: list[optuna.trial.FrozenTrial]) -> None:
        """Stop timed-out trials, record dead workers' trials, replace workers while trials remain."""
        from archspace.search.worker import counted

        running = self.owned(trials)
        if self.timeout:
            for pid, t in running.items():
                if t.datetime_start is not None and (_now() - t.datetime_start).total_seconds() > self.timeout:
                    os.kill(pid, signal.SIGKILL)
        for p in list(self.procs):
            if p.is_alive():
                continue
            p.join()
            self.procs.remove(p)
            err = self.run.path / ".workers" / f"{p.pid}.error"
            if p.exitcode == 2 and err.is_file():
                message = err.read_text().strip()
                err.unlink()
                self.stop_all()
                raise ArchspaceError(message)
            t = running.get(p.pid)
            if t is not None:
                if p.exitcode == -signal.SIGKILL and self.timeout and (_now() - t.datetime_start).total_seconds() > self.timeout:
                    reason = f"timed out after {self.timeout:g} s (trial_timeout_s); its worker was stopped"
                elif p.exitcode is not None and p.exitcode < 0:
                    reason = f"worker killed by signal {signal.Signals(-p.exitcode).name}"
                else:
                    reason = f"worker exited with code {p.exitcode}"
                _fail(self.study, t, reason)
            if p.exitcode != 0:
                self.respawns += 1
                if self.respawns > 5 * max(self.target, 1):
                    raise ArchspaceError("workers keep dying; see the errors in trials.csv")
        left = self.target - len(counted(trials))
        while len(self.procs) < min(self.workers, max(left, 0)):
            self.spawn()


def _progress(cfg: SearchConfig, target: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    return Progress(
        TextColumn(f"[bold]{cfg.name}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
    )


def search(cfg: SearchConfig, out: str | Path, storage: str | None = None, quiet: bool = False,
           in_process: bool = False) -> tuple[RunDir, dict[str, Any]]:
    """Run (or resume) the search `cfg` into `out` until it holds `cfg.trials` trials; returns the run and its summary.

    `in_process` runs the trials in this process, one at a time, without workers (no trial timeout, and
    a crash of a trial's code takes the caller down): for notebooks, debugging and tests."""
    from archspace.search.space import SearchSpace
    from archspace.search.worker import counted

    out = Path(out)
    space = SearchSpace.from_file(cfg.space)  # a bad space fails here, before any folder is made
    from archspace.evaluate.evaluator import make_evaluator

    make_evaluator(cfg.evaluator)
    make_sampler(cfg, cfg.seed)
    run = prepare_run(cfg, out, storage)
    with _run_lock(run):
        embedded = run.meta["storage"] == JOURNAL
        if embedded and repair_journal(run.journal_path) and not quiet:
            print(f"{run.journal_path}: cut a torn last record (the machine stopped mid-write)", file=sys.stderr)
        study = open_study(run, cfg)
        publish_run(study, run)
        recovered = recover(study, embedded)
        with claim_lock(run.storage_url, run.study_name, run.path / ".ask.lock"):  # one machine enqueues them
            if not study.get_trials(deepcopy=False):
                enqueue_anchors(study, cfg, space)
        trials = study.get_trials(deepcopy=False)
        df = export_trials(run, trials)
        if recovered and not quiet:
            print(f"resumed {run.path}: {recovered} interrupted trial(s) recorded FAIL and retried", file=sys.stderr)
        if in_process:
            from archspace.search.worker import work

            work(load_context(run.path)[0], study, cfg.trials)
            return run, summary(export_trials(run, study.get_trials(deepcopy=False)), cfg)
        sup = Supervisor(run, cfg, study, cfg.trials, cfg.workers, cfg.trial_timeout_s)
        progress = None if quiet else _progress(cfg, cfg.trials)
        seen = len(df)
        try:
            task = None
            s = summary(df, cfg)
            if progress is not None:
                progress.start()
                task = progress.add_task(_describe(s, cfg, len(counted(trials))), total=cfg.trials, completed=s["done"])
            last_export = 0.0
            while True:
                sup.step(trials)
                if not sup.procs:
                    break
                time.sleep(POLL_S)
                trials = study.get_trials(deepcopy=False)
                finished = sum(t.state.is_finished() for t in trials)
                if finished != seen and time.monotonic() - last_export > 1.0:
                    df = export_trials(run, trials)
                    last_export, seen = time.monotonic(), finished
                    s = summary(df, cfg)
                    if progress is None and not quiet:
                        print(f"[{s['done']}/{cfg.trials}] {_describe(s, cfg, len(counted(trials)))}", file=sys.stderr, flush=True)
                if progress is not None:
                    progress.update(task, completed=s["done"], description=_describe(s, cfg, len(counted(trials))))
        except KeyboardInterrupt:
            sup.stop_all()
            recover(study, embedded=True)
            export_trials(run, study.get_trials(deepcopy=False))
            raise
        finally:
            if progress is not None:
                progress.stop()
            sup.stop_all()
        df = export_trials(run, study.get_trials(deepcopy=False))
    s = summary(df, cfg)
    if len(counted(study.get_trials(deepcopy=False))) < cfg.trials:
        raise ArchspaceError(f"{run.path}: the workers stopped before {cfg.trials} trials; run the same command to resume")
    return run, s


# -- published models under a run's protocol ------------------------------------------------------
_CONTEXTS: dict[str, TrialContext] = {}


def evaluate_genotype(run: RunDir, genotype) -> dict[str, Any]:
    """A genotype (e.g. a published model at its target resolution) under `run`'s protocol: the same target
    resolution, budgets, adaptation rule, data, evaluator, seed and device as the run's trials."""
    from archspace.cost.analytic import analytic_cost
    from archspace.genotype.adapt import adapt
    from archspace.search.constraints import max_violation, violations

    key = str(Path(run.path).resolve())
    if key not in _CONTEXTS:
        _CONTEXTS[key] = load_context(run.path)[0]
    ctx = _CONTEXTS[key]
    g = ctx.to_target(genotype)
    costs = ctx.coster(g)
    b = ctx.bundle
    adapted = adapt(g, b.image_size, b.in_chans, b.num_classes)
    ev = analytic_cost(adapted).total
    result = ctx.evaluator.evaluate(adapted, b, seed=ctx.cfg.seed, device=ctx.cfg.device)
    return {
        "genotype_id": g.id, "name": genotype.name, **costs.as_dict(),
        "violation": max_violation(violations(costs, ctx.cfg.budgets)),
        "eval_image_size": adapted.image_size, "eval_flops": ev.flops, "eval_params": ev.params, **result,
    }


def resolve_config(path: str | Path, trials: int | None = None, workers: int | None = None, seed: int | None = None,
                   timeout: float | None = None) -> SearchConfig:
    """Load a config file with the command line's overrides applied (then validated again)."""
    from archspace.search.config import load_config

    cfg = load_config(path)
    over = {k: v for k, v in (("trials", trials), ("workers", workers), ("seed", seed), ("trial_timeout_s", timeout)) if v is not None}
    if not over:
        return cfg
    data = cfg.model_dump(mode="json") | over
    return config_from_dict(data, where="command line")


__all__ = ["evaluate_genotype", "export_trials", "load_context", "make_sampler", "prepare_run", "resolve_config", "search"]
