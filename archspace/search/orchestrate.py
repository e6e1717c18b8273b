"""One orchestration for every backend: open the run, set the evaluator up once, ask, tell, record, finish.

A `Backend` (local worker processes, Ray) only decides where evaluations run. Everything else is here
and shared: the run folder and its lock, the study, recovery and the `seed_with` anchors (`Orchestration`);
`ask`, which claims the next trial under the study-wide lock, reseeds the sampler for the trial's index,
and samples, costs and budget-checks it before anything is built (an invalid or over-budget sample is told
at once); the per-trial timeout rule (`overdue`, `TIMEOUT`), which both backends enforce by stopping the
process that runs the trial; and telling results (`archspace.search.trial`).
"""
from __future__ import annotations

import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

import optuna
from optuna.trial import TrialState

from archspace.errors import ArchspaceError
from archspace.search.config import SearchConfig
from archspace.search.locks import claim_lock, run_lock
from archspace.search.record import elapsed, export_trials, put
from archspace.search.rundir import JOURNAL, RunDir, repair_journal
from archspace.search.study import counted, enqueue_anchors, make_sampler, open_study, recover, sampler_seed
from archspace.search.trial import Ready, TrialContext, one_line, prepare_trial, tell_stopped

TIMEOUT = "timed out after {:g} s (trial_timeout_s); its worker was stopped"


class Backend(Protocol):
    """Where a search's evaluations run."""

    who: str  # what stopped early, in the error when a run ends short ("the workers", "Ray")

    def check(self, cfg: SearchConfig) -> None:
        """Refuse, in one line, what this backend cannot run: before any file is written."""
        ...

    def run(self, orch: "Orchestration") -> None:
        """Run trials (`ask`, evaluate, tell) until the study holds `orch.cfg.trials` of them, exporting as they end."""
        ...


def set_up_evaluator(cfg: SearchConfig, bundle, run: RunDir):
    """The config's evaluator after its once-per-run `setup` (state it keeps goes to RUN/evaluator/)."""
    from archspace.evaluate.registry import SetupContext, make_evaluator

    evaluator = make_evaluator(cfg.evaluator)
    evaluator.setup(SetupContext(bundle=bundle, seed=cfg.seed, device=cfg.device, state_dir=run.path / "evaluator"))
    return evaluator


def load_context(run_path: str | Path | RunDir, for_worker: bool = False, cfg: SearchConfig | None = None,
                 evaluator=None) -> tuple[TrialContext, optuna.Study | None]:
    """Everything a trial needs, from the run folder (or an open RunDir, which carries the storage URL with its
    password); a worker is handed the driver's config and set-up evaluator."""
    from archspace.evaluate.data import load_data
    from archspace.search.constraints import Coster
    from archspace.search.space import SearchSpace

    run = run_path if isinstance(run_path, RunDir) else RunDir(run_path)
    cfg = cfg or run.config
    bundle = load_data(cfg.data)
    evaluator = evaluator if evaluator is not None else set_up_evaluator(cfg, bundle, run)
    ctx = TrialContext(run, cfg, SearchSpace.from_file(cfg.space), Coster.for_config(cfg), evaluator, bundle)
    return ctx, (open_study(run, cfg) if for_worker else None)


def ask(ctx: TrialContext, study: optuna.Study, target: int, tag: str, heartbeat=None) -> tuple[optuna.Trial, Ready | str] | None:
    """Claim the next trial of the search and prepare it: (trial, Ready) to evaluate, (trial, "INVALID"/"INFEASIBLE"/"FAIL")
    already told, or None once the study holds `target` trials. On a server storage, trials whose worker stopped sending
    heartbeats are failed and retried first, and a caller waits for other workers' running trials before it stops."""
    run, cfg = ctx.run, ctx.cfg
    while True:
        with warnings.catch_warnings():  # heartbeats are experimental in Optuna, and "meant for Study.optimize"
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
            optuna.storages.fail_stale_trials(study)  # a no-op without heartbeats
            with claim_lock(run.storage_url, run.study_name, run.path / ".ask.lock"):
                trials = study.get_trials(deepcopy=False)
                index = len(counted(trials))
                trial = None
                if index < target:
                    study.sampler = make_sampler(cfg, sampler_seed(cfg.seed, index))
                    trial = study.ask()
                    put(trial, owner=tag)
        if trial is not None:
            break
        others = [t for t in trials if t.state == TrialState.RUNNING and t.user_attrs.get("owner") != tag]
        if heartbeat is None or not heartbeat.enabled or not others:
            return None
        time.sleep(heartbeat.interval)  # one of them may be a dead worker's: retried once it is stale
    if heartbeat is not None:
        heartbeat.add(trial._trial_id)  # noqa: SLF001 -- Optuna's heartbeat API takes the storage id
    start = time.perf_counter()
    try:
        return trial, prepare_trial(ctx, study, trial)
    except Exception as err:  # noqa: BLE001 -- recorded, never fatal
        return trial, tell_stopped(study, trial, TrialState.FAIL, one_line(err), start)


def overdue(trial: optuna.trial.FrozenTrial, timeout: float | None) -> bool:
    """Whether a running trial has run past the config's `trial_timeout_s`."""
    seconds = elapsed(trial)
    return bool(timeout) and seconds is not None and seconds > timeout


class Orchestration:
    """A search's run folder, study and trial context, opened under the run lock (`opened`), and its progress."""

    def __init__(self, cfg: SearchConfig, out: str | Path, storage: str | None = None, quiet: bool = False):
        self.cfg, self.out, self.storage, self.quiet = cfg, Path(out), storage, quiet
        self._last_export = 0.0

    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, file=sys.stderr, flush=True)

    @contextmanager
    def opened(self, backend: Backend) -> Iterator["Orchestration"]:
        """Validate, make or reopen the run, recover, enqueue anchors, set the evaluator up; hold the run lock."""
        from archspace.evaluate.registry import make_evaluator
        from archspace.search.prepare import prepare_run
        from archspace.search.space import SearchSpace
        from archspace.search.storage import publish_run

        cfg = self.cfg
        space = SearchSpace.from_file(cfg.space)  # a bad space, evaluator or sampler fails here, before any folder is made
        make_evaluator(cfg.evaluator)
        make_sampler(cfg, cfg.seed)
        backend.check(cfg)
        self.run = run = prepare_run(cfg, self.out, self.storage)
        with run_lock(run):
            self.embedded = run.meta["storage"] == JOURNAL
            if self.embedded and repair_journal(run.journal_path):
                self.say(f"{run.journal_path}: cut a torn last record (the machine stopped mid-write)")
            self.study = study = open_study(run, cfg)
            publish_run(study, run)
            recovered = recover(study, self.embedded)
            with claim_lock(run.storage_url, run.study_name, run.path / ".ask.lock"):  # one machine enqueues them
                if not study.get_trials(deepcopy=False):
                    enqueue_anchors(study, cfg, space)
            self.export(force=True)
            if recovered:
                self.say(f"resumed {run.path}: {recovered} interrupted trial(s) recorded FAIL and retried")
            self.ctx = load_context(run, cfg=cfg)[0]
            yield self

    def trials(self) -> list[optuna.trial.FrozenTrial]:
        return self.study.get_trials(deepcopy=False)

    def export(self, force: bool = False):
        """Write trials.csv (at most once a second unless forced); returns the table when it wrote it."""
        if force or time.monotonic() - self._last_export > 1.0:
            self._last_export = time.monotonic()
            return export_trials(self.run, self.trials())
        return None

    def done(self) -> int:
        return len(counted(self.trials()))

    def finish(self, backend: Backend) -> dict:
        """The run's summary; one line when the backend stopped before the target."""
        from archspace.search.progress import summary

        s = summary(self.export(force=True), self.cfg)
        if self.done() < self.cfg.trials:
            raise ArchspaceError(f"{self.run.path}: {backend.who} stopped before {self.cfg.trials} trials; run the same command to resume")
        return s


def search_with(backend: Backend, cfg: SearchConfig, out: str | Path, storage: str | None = None,
                quiet: bool = False) -> tuple[RunDir, dict]:
    """Run (or resume) `cfg` into `out` through `backend`; returns the run and its summary."""
    orch = Orchestration(cfg, out, storage, quiet)
    with orch.opened(backend):
        backend.run(orch)
        s = orch.finish(backend)
    return orch.run, s
