"""A search worker process: claims trials from the shared study until it holds `trials` of them, and runs each.

Workers are started by the runner (multiprocessing, spawn). Claiming a trial -- counting the study's
trials and asking for a new one -- happens under an exclusive lock file in the run folder, so N
workers never ask for more than the target between them; the OS releases the lock if a worker dies.
Before each ask the sampler is re-created with a seed derived from the run seed and the trial's
index in the search (interrupted trials do not count), so one worker samples the same sequence
whether or not the run was interrupted and resumed. Every trial records its owner (host, pid and the
process's start time) so a later run can tell a trial whose process is gone from one still running.
"""
from __future__ import annotations

import fcntl
import os
import signal
import socket
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import optuna
from optuna.trial import TrialState

MAX_SEED = 2**31 - 1


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), '' where unknown; with the pid it names a process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_tag(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{process_start(pid)}"


def owner_alive(tag: str | None) -> bool | None:
    """Whether the process named by an owner tag still runs; None when it ran on another host (cannot tell)."""
    if not tag:
        return False
    host, pid, start = (tag.split(":") + ["", ""])[:3]
    if host != socket.gethostname():
        return None
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return process_start(int(pid)) == start


def counted(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Trials that count towards the target: asked and not interrupted (waiting enqueued ones do not)."""
    return [t for t in trials if t.state != TrialState.WAITING and not t.user_attrs.get("interrupted")]


def sampler_seed(seed: int, index: int) -> int:
    """The sampler seed for the index-th trial of a search seeded with `seed`."""
    return (seed * 1_000_003 + index * 7_919 + 17) % MAX_SEED


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` (released by the OS if the holder dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent (the runner) dies, so kill -9 leaves no orphans."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker_main(run_path: str, target: int, threads: int, parent_pid: int) -> None:
    """Entry point of a worker process."""
    _die_with_parent()
    if os.getppid() != parent_pid:
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner handles Ctrl-C and stops the workers
    from archspace.errors import ArchspaceError

    try:
        import torch

        torch.set_num_threads(threads)
        from archspace.search.runner import load_context

        ctx, study = load_context(run_path, for_worker=True)
    except ArchspaceError as err:
        _fatal(run_path, str(err))
    except Exception as err:  # noqa: BLE001 -- reported to the runner as one line
        from archspace.search.trial import one_line

        _fatal(run_path, one_line(err))
    work(ctx, study, target, keep_going=lambda: os.getppid() == parent_pid)
    sys.exit(0)


def work(ctx, study: optuna.Study, target: int, keep_going: Callable[[], bool] = lambda: True) -> int:
    """Claim and run trials until the study holds `target` of them; returns how many this call ran."""
    from archspace.search.runner import make_sampler
    from archspace.search.storage import claim_lock
    from archspace.search.trial import run_trial

    tag, lock, ran = owner_tag(), ctx.run.path / ".ask.lock", 0
    url, name = ctx.run.storage_url, ctx.run.study_name
    while keep_going():
        with claim_lock(url, name, lock):
            index = len(counted(study.get_trials(deepcopy=False)))
            if index >= target:
                break
            study.sampler = make_sampler(ctx.cfg, sampler_seed(ctx.cfg.seed, index))
            trial = study.ask()
            trial.set_user_attr("owner", tag)
        run_trial(ctx, study, trial)
        ran += 1
    return ran


def _fatal(run_path: str, message: str) -> None:
    from archspace.search.rundir import RunDir

    RunDir(run_path).write_text(f".workers/{os.getpid()}.error", message)
    sys.exit(2)
