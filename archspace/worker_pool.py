"""Jobs on a pool of spawned worker processes (one core each), results in the order they finish.

`archspace report/pareto --workers N` (archspace.search.evaluate_many) and `archspace bench build --workers N` train on
such a pool, caching each result as it is yielded. Two ways out that a plain `with ProcessPoolExecutor()` gets wrong
for hours-long trainings: a worker killed from outside (the OOM killer, `kill`) ends the command in one line naming
the trainings it lost, not a BrokenProcessPool traceback; and a Ctrl-C (or a caller that stops early) stops the
workers at once instead of waiting for their trainings to end. What finished was yielded, so it is kept either way.
"""
from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, Callable, Iterator, Sequence

from archspace.errors import ArchspaceError


def watch_parent(parent: int, every_s: float = 1.0) -> None:
    """Worker-process initializer: exit as soon as the process that started this worker is gone (kill -9 of a build),
    instead of training on, or idling, for results nobody writes."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def in_workers(fn: Callable[..., Any], jobs: Sequence[tuple], workers: int, label: Callable[[int], str],
               submitted: Callable[[int], None] | None = None) -> Iterator[tuple[int, Any]]:
    """(index into `jobs`, `fn(*jobs[index])`) as each finishes, at most `workers` at a time on spawned processes
    (`fn` is module-level, so workers import it by name); `submitted(index)` is called as each job starts.

    A worker that dies raises ArchspaceError naming the jobs in flight (by `label(index)`) after the results that came
    back were yielded; leaving early (an exception, Ctrl-C, `close()`) terminates the workers without waiting."""
    if not jobs:
        return
    pool = ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("spawn"), initializer=watch_parent,
                               initargs=(os.getpid(),))
    try:
        pending = iter(range(len(jobs)))
        running: dict[Future, int] = {}

        def submit(k: int) -> None:
            for i in pending:
                if submitted:
                    submitted(i)
                running[pool.submit(fn, *jobs[i])] = i
                k -= 1
                if k == 0:
                    return

        submit(workers)
        while running:
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            lost = [running[f] for f in finished if isinstance(f.exception(), BrokenProcessPool)]
            for future in sorted(finished, key=running.__getitem__):
                i = running.pop(future)
                if i not in lost:
                    yield i, future.result()
                    submit(1)
            if lost:
                wait(list(running), timeout=10)  # a broken pool fails every job in flight; one may have just come back
                for future, i in sorted(running.items(), key=lambda item: item[1]):
                    if future.done() and future.exception() is None:
                        yield i, future.result()
                    else:
                        lost.append(i)
                raise ArchspaceError(
                    f"a worker process died (killed from outside, or out of memory?) while training "
                    f"{', '.join(label(i) for i in sorted(lost))}; what finished before is kept: run the command again to resume")
    finally:
        _stop(pool)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Shut `pool` without waiting for the jobs in flight, and end its processes."""
    processes = list((pool._processes or {}).values())  # no public handle to them before Python 3.14's terminate_workers
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(10)
    pool.shutdown(wait=True)  # the pool's manager thread, which sees its workers gone, ends before the pool is collected
