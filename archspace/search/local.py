"""The local backend: N worker processes on this machine (or the trials in this process), supervised.

The supervisor starts workers (archspace.search.worker), stops a trial that runs past `trial_timeout_s`
(its worker is killed and replaced, the trial recorded FAIL), records a worker killed by a signal the same
way, keeps trials.csv current and shows progress. `in_process` runs the trials here, one at a time, without
workers (no trial timeout, and a crash of a trial's code takes the caller down): for notebooks and tests.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

import optuna
from optuna.trial import TrialState

from archspace.errors import ArchspaceError
from archspace.search.config import SearchConfig
from archspace.search.orchestrate import TIMEOUT, Orchestration, overdue
from archspace.search.study import counted, fail_trial, retry_killed

POLL_S = 0.25


class Supervisor:
    """Starts, watches and replaces worker processes."""

    def __init__(self, orch: Orchestration):
        import multiprocessing as mp

        from archspace.search.limits import usable_workers

        self.orch, self.cfg = orch, orch.cfg
        self.workers, capped = usable_workers(self.cfg.workers)
        if capped:  # said even when quiet: the config asked for more than runs
            print(f"archspace: {capped}", file=sys.stderr, flush=True)
        self.threads = max(1, len(os.sched_getaffinity(0)) // self.workers)  # the cores this process may use
        self.mp = mp.get_context("spawn")
        self.procs: list[Any] = []
        self.respawns = 0

    def spawn(self) -> None:
        from archspace.search.worker import worker_main

        o = self.orch
        p = self.mp.Process(target=worker_main, daemon=False,
                            args=(str(o.run.path), self.cfg.trials, self.threads, os.getpid(), self.cfg, o.ctx.evaluator, o.run.storage_url))
        p.start()
        self.procs.append(p)

    def owned(self, trials: list[optuna.trial.FrozenTrial]) -> dict[int, optuna.trial.FrozenTrial]:
        """RUNNING trials by the pid of the worker (of this runner) that runs them."""
        from archspace.search.liveness import owner_tag

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
        timeout = self.cfg.trial_timeout_s
        running = self.owned(trials)
        for pid, t in running.items():
            if overdue(t, timeout):
                os.kill(pid, signal.SIGKILL)
        for p in list(self.procs):
            if p.is_alive():
                continue
            p.join()
            self.procs.remove(p)
            err = self.orch.run.path / ".workers" / f"{p.pid}.error"
            if p.exitcode == 2 and err.is_file():
                message = err.read_text().strip()
                err.unlink()
                self.stop_all()
                raise ArchspaceError(message)
            t = running.get(p.pid)
            if t is not None:
                if p.exitcode == -signal.SIGKILL and overdue(t, timeout):
                    reason = TIMEOUT.format(timeout)
                elif p.exitcode is not None and p.exitcode < 0:
                    reason = f"worker killed by signal {signal.Signals(-p.exitcode).name}"
                else:
                    reason = f"worker exited with code {p.exitcode}"
                killed = p.exitcode is not None and p.exitcode < 0 and not reason.startswith("timed out")
                if not (killed and retry_killed(self.orch.study, t, reason, self.cfg.kill_retries)):
                    fail_trial(self.orch.study, t, reason)
            if p.exitcode != 0:
                self.respawns += 1
                if self.respawns > 5 * max(self.cfg.trials, 1):
                    raise ArchspaceError("workers keep dying; see the errors in trials.csv")
        left = self.cfg.trials - len(counted(trials))
        while len(self.procs) < min(self.workers, max(left, 0)):
            self.spawn()


class LocalBackend:
    """Worker processes on this machine (`cfg.workers` of them, at most one per usable core), or the trials in this process."""

    who = "the workers"

    def __init__(self, in_process: bool = False):
        self.in_process = in_process

    def check(self, cfg: SearchConfig) -> None:
        """Nothing to refuse: any config runs on this machine."""

    def run(self, orch: Orchestration) -> None:
        if self.in_process:
            from archspace.search.worker import work

            work(orch.ctx, orch.study, orch.cfg.trials)
            return
        sup = Supervisor(orch)
        show = _Display(orch)
        try:
            while True:
                trials = orch.trials()
                sup.step(trials)
                if not sup.procs:
                    break
                time.sleep(POLL_S)
                show.update(orch.trials())
        except KeyboardInterrupt:
            sup.stop_all()
            from archspace.search.study import recover

            recover(orch.study, embedded=True)
            orch.export(force=True)
            raise
        finally:
            show.close()
            sup.stop_all()


class _Display:
    """The progress bar on a terminal, else a line per change on stderr (nothing when quiet)."""

    def __init__(self, orch: Orchestration):
        from archspace.search.progress import describe, progress_bar, summary

        self.orch, self.describe, self.summary = orch, describe, summary
        cfg = orch.cfg
        self.bar = None if orch.quiet else progress_bar(cfg, cfg.trials)
        self.seen = -1
        self.s = summary(orch.export(force=True), cfg)
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task(describe(self.s, cfg, orch.done()), total=cfg.trials, completed=self.s["done"])

    def update(self, trials: list[optuna.trial.FrozenTrial]) -> None:
        cfg = self.orch.cfg
        finished = sum(t.state.is_finished() for t in trials)
        if finished != self.seen:
            df = self.orch.export()
            if df is not None:
                self.seen, self.s = finished, self.summary(df, cfg)
                if self.bar is None:
                    self.orch.say(f"[{self.s['done']}/{cfg.trials}] {self.describe(self.s, cfg, len(counted(trials)))}")
        if self.bar is not None:
            self.bar.update(self.task, completed=self.s["done"], description=self.describe(self.s, cfg, len(counted(trials))))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
