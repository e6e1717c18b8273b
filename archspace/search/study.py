"""The run's Optuna study: sampler and pruner, opening it (with heartbeats on server storages), failing and
retrying a trial, recovering trials a dead process left RUNNING, enqueueing the `seed_with` anchors.

Liveness has two mechanisms, each where it is the right tool:
- server storages (PostgreSQL, MySQL, SQLite through RDB): Optuna's heartbeat. Every running trial's
  process records a heartbeat each `heartbeat_s`; before each ask, any worker marks trials silent for
  3 x `heartbeat_s` FAIL and `RetryFailedTrialCallback` enqueues them again, so a worker that died on
  another machine is recovered by whichever worker is alive.
- the journal file in the run folder: one machine, one `archspace search` at a time (the run lock), so
  a trial is dead exactly when the process named by its owner tag is gone; the next run of the command
  finds it at once (`recover`), with no heartbeat writes appended to the journal while trials run.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from archspace.errors import ArchspaceError
from archspace.search.config import SearchConfig
from archspace.search.record import RETRIES, elapsed, is_interrupted, put_stored

MAX_SEED = 2**31 - 1
SAMPLERS = {
    "tpe": optuna.samplers.TPESampler,
    "nsgaii": optuna.samplers.NSGAIISampler,
    "gp": optuna.samplers.GPSampler,
    "random": optuna.samplers.RandomSampler,
}


def make_sampler(cfg: SearchConfig, seed: int) -> optuna.samplers.BaseSampler:
    """The config's Optuna sampler, seeded. Budgets reach it through the trials' constraint list (constraints.record_constraints)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return SAMPLERS[cfg.sampler.kind](seed=seed, **cfg.sampler.options)
    except (TypeError, ValueError) as err:
        raise ArchspaceError(f"sampler.options: {err}") from None


def sampler_seed(seed: int, index: int) -> int:
    """The sampler seed for the index-th trial of a search seeded with `seed`."""
    return (seed * 1_000_003 + index * 7_919 + 17) % MAX_SEED


def make_pruner(cfg: SearchConfig) -> optuna.pruners.BasePruner:
    if cfg.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if cfg.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def open_study(run, cfg: SearchConfig, sampler=None) -> optuna.Study:
    """Create or load the run's study (heartbeats on a server storage); one line if its objectives differ from the config's."""
    from archspace.search.rundir import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            study_name=run.study_name, storage=open_storage(run.storage_url, heartbeat_s=cfg.heartbeat_s, on_stale=retry_stale),
            directions=cfg.directions, load_if_exists=True, sampler=sampler or make_sampler(cfg, cfg.seed), pruner=make_pruner(cfg),
        )
    except (optuna.exceptions.OptunaError, OSError, ValueError) as err:
        from archspace.search.storage import scrub

        raise ArchspaceError(scrub(f"storage {run.storage_shown}: {err}", run.storage_url)) from None
    if [d.name.lower() for d in study.directions] != cfg.directions:
        raise ArchspaceError(f"study {run.study_name!r} in {run.storage_shown} has other objectives; use another --out")
    if study.metric_names is None:  # optuna-dashboard and other tools then name the objectives, not "0" and "1"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([o.name for o in cfg.objectives])
    return study


def counted(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Trials that count towards the target: asked and not interrupted (waiting enqueued ones do not)."""
    return [t for t in trials if t.state != TrialState.WAITING and not is_interrupted(t)]


def fail_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial, reason: str, interrupted: bool = False) -> bool:
    """Record a RUNNING trial as FAIL with `reason`; False if it finished meanwhile."""
    storage = study._storage  # noqa: SLF001 -- Optuna's only way to finish a trial this process did not ask
    try:
        put_stored(storage, trial._trial_id, error=reason)  # noqa: SLF001
        if interrupted:
            put_stored(storage, trial._trial_id, interrupted=True)  # noqa: SLF001
        if trial.datetime_start is not None:
            put_stored(storage, trial._trial_id, duration_s=elapsed(trial))  # noqa: SLF001
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # noqa: SLF001
    except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
        return False
    return True


def interrupt(study: optuna.Study, trial: optuna.trial.FrozenTrial, why: str) -> bool:
    """FAIL "interrupted: <why>" and, while retries are left, enqueue the same parameters again; False if it had finished."""
    retries = int(trial.user_attrs.get("retries", 0))
    again = bool(trial.params) and retries < RETRIES
    if not fail_trial(study, trial, f"interrupted: {why}" + ("; retried" if again else ""), interrupted=True):
        return False
    if again:
        keep = {k: v for k, v in trial.user_attrs.items() if k == "seeded_from"}
        study.enqueue_trial(trial.params, user_attrs={**keep, "retry_of": trial.number, "retries": retries + 1}, skip_if_exists=False)
    return True


def retry_killed(study: optuna.Study, trial: optuna.trial.FrozenTrial, why: str, limit: int) -> bool:
    """A trial whose worker was killed by a signal: while fewer than `limit` kills of its parameters were retried, FAIL
    "<why>; retried" (not counted, like an interrupted trial) and its parameters enqueued again; False when it is not
    retried (the caller records a plain FAIL)."""
    kills = int(trial.user_attrs.get("kill_retries", 0))
    if not trial.params or kills >= limit:
        return False
    if fail_trial(study, trial, f"{why}; retried", interrupted=True):
        keep = {k: v for k, v in trial.user_attrs.items() if k in ("seeded_from", "retries")}
        study.enqueue_trial(trial.params, user_attrs={**keep, "retry_of": trial.number, "kill_retries": kills + 1}, skip_if_exists=False)
    return True


def retry_stale(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Optuna's stale-trial callback: `RetryFailedTrialCallback` enqueues the (already FAIL) trial's parameters again,
    at most RETRIES times, with only the attributes a retry keeps. The failed trial is read as interrupted
    (`record.stale`): Optuna allows no attribute on a finished trial."""
    history = trial.system_attrs.get("retry_history", [])
    keep = {k: v for k, v in trial.user_attrs.items() if k == "seeded_from"}
    clean = copy.deepcopy(trial)
    clean.user_attrs = {**keep, "retry_of": trial.number, "retries": len(history) + 1}
    optuna.storages.RetryFailedTrialCallback(max_retry=RETRIES)(study, clean)


def recover(study: optuna.Study, embedded: bool) -> int:
    """Trials left RUNNING by a process that is gone: FAIL "interrupted", and retried with the same params."""
    from archspace.search.liveness import owner_alive

    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        alive = owner_alive(t.user_attrs.get("owner"))
        if alive or (alive is None and not embedded):
            continue
        n += interrupt(study, t, "its process stopped before the trial finished")
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
