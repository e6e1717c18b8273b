"""A search worker process: claims trials from the shared study until it holds `trials` of them, and runs each.

Workers are started by the local backend (multiprocessing, spawn) with the driver's resolved config and
set-up evaluator, so state the evaluator built once per run reaches every worker. Claiming a trial
(`orchestrate.ask`) happens under the study-wide claim lock, so N workers never ask for more than the
target between them. Every trial records its owner (archspace.search.liveness) so a later run can tell
a trial whose process is gone from one still running; on a server storage it also records heartbeats.
"""
from __future__ import annotations

import os
import signal
import sys
from typing import Callable

import optuna

from archspace.search.liveness import Heartbeat, die_with_parent, owner_alive, owner_tag  # noqa: F401 (owner_alive: public here)
from archspace.search.orchestrate import ask, load_context
from archspace.search.trial import TrialContext, evaluate_ready, one_line


def worker_main(run_path: str, target: int, threads: int, parent_pid: int, cfg, evaluator, storage: str) -> None:
    """Entry point of a worker process; `storage` is the study's URL with its password (run.json keeps it redacted)."""
    die_with_parent()
    if os.getppid() != parent_pid:
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner handles Ctrl-C and stops the workers
    from archspace.errors import ArchspaceError

    try:
        import torch

        torch.set_num_threads(threads)
        from archspace.search.rundir import RunDir

        ctx, study = load_context(RunDir(run_path, storage=storage), for_worker=True, cfg=cfg, evaluator=evaluator)
    except ArchspaceError as err:
        _fatal(run_path, str(err))
    except Exception as err:  # noqa: BLE001 -- reported to the runner as one line
        _fatal(run_path, one_line(err))
    work(ctx, study, target, keep_going=lambda: os.getppid() == parent_pid)
    sys.exit(0)


def work(ctx: TrialContext, study: optuna.Study, target: int, keep_going: Callable[[], bool] = lambda: True) -> int:
    """Claim and run trials until the study holds `target` of them; returns how many this call ran."""
    tag, heartbeat, ran = owner_tag(), Heartbeat(study), 0
    try:
        while keep_going():
            asked = ask(ctx, study, target, tag, heartbeat)
            if asked is None:
                break
            trial, ready = asked
            if not isinstance(ready, str):
                evaluate_ready(ctx, study, trial, ready)
            heartbeat.discard(trial._trial_id)  # noqa: SLF001
            ran += 1
    finally:
        heartbeat.close()
    return ran


def _fatal(run_path: str, message: str) -> None:
    from archspace.search.rundir import RunDir

    RunDir(run_path).write_text(f".workers/{os.getpid()}.error", message)
    sys.exit(2)
