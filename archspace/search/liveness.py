"""Is a trial's process alive? Owner tags for the journal file, Optuna heartbeats for server storages.

- Owner tag: host, pid and the process's start time (Linux /proc, clock ticks since boot); with the
  pid it names one process, so a later run on the same machine can tell a trial whose process is gone
  from one still running (pids are reused; start times are not).
- `Heartbeat`: a background thread recording Optuna's heartbeat for this process's running trials every
  `heartbeat_s` (server storages only; nothing runs for the journal file).
- `die_with_parent`: a worker asks Linux to SIGKILL it when its runner dies, so kill -9 leaves no orphans.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), '' where unknown."""
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


def die_with_parent() -> None:
    """PR_SET_PDEATHSIG: SIGKILL this process when its parent dies (Linux; elsewhere nothing)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class Heartbeat:
    """Records Optuna heartbeats for the trials this process runs, while it runs them (server storages only)."""

    def __init__(self, study):
        self.storage = study._storage  # noqa: SLF001 -- Optuna's heartbeat API lives on the storage
        interval = getattr(self.storage, "get_heartbeat_interval", lambda: None)()
        self.interval = float(interval) if interval else None
        self.ids: set[int] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.interval is not None

    def add(self, trial_id: int) -> None:
        if not self.enabled:
            return
        self.storage.record_heartbeat(trial_id)
        with self.lock:
            self.ids.add(trial_id)
        if self.thread is None:
            self.thread = threading.Thread(target=self._beat, name="archspace-heartbeat", daemon=True)
            self.thread.start()

    def discard(self, trial_id: int) -> None:
        with self.lock:
            self.ids.discard(trial_id)

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            with self.lock:
                ids = list(self.ids)
            for trial_id in ids:
                try:
                    self.storage.record_heartbeat(trial_id)
                except Exception:  # noqa: BLE001 -- a missed beat is retried; the grace period covers a few
                    pass

    def close(self) -> None:
        self.stop.set()

    def __getstate__(self) -> dict:  # Ray Tune pickles its searcher's state: the thread and locks stay here
        return {**self.__dict__, "lock": None, "stop": None, "thread": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.lock, self.stop = threading.Lock(), threading.Event()
