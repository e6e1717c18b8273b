"""A search run's directory: resolved config, run metadata, embedded study, trials table, genotype files.

```
RUN/config.yaml          the resolved search config (every default filled)
RUN/run.json             seed, study name, storage, objectives, budgets, target and eval resolutions,
                         versions, device fingerprint, creation time, space
RUN/study.journal        the embedded Optuna storage (JournalFileBackend), unless --storage names another
RUN/trials.csv           one row per trial (COLUMNS, then one "gene:<path>" column per gene)
RUN/genotypes/<id>.json  every evaluated genotype at the target resolution (`archspace build` reads it)
```
Every file is written to a temporary name in the same folder and renamed into place, so a reader (or a
run killed mid-write) never sees half a file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


from archspace import atomic
from archspace.errors import ArchspaceError
from archspace.search.record import COLUMNS

STATES = ("COMPLETE", "PRUNED", "FAIL", "INFEASIBLE", "RUNNING")
JOURNAL = "study.journal"


class RunDir:
    """One run's folder. `RunDir(path)` opens an existing run; `storage` is the storage URL with its password, which
    run.json never holds (it keeps the redacted form), given for this process only."""

    def __init__(self, path: str | Path, must_exist: bool = True, storage: str | None = None):
        self.path, self._storage = Path(path), storage
        if must_exist and not (self.path / "run.json").is_file():
            raise ArchspaceError(f"{self.path}: not a search run (no run.json); give the folder `archspace search --out` wrote")

    # -- reading ---------------------------------------------------------------------------------
    @property
    def meta(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "run.json").read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ArchspaceError(f"{self.path / 'run.json'}: cannot read: {err}") from None

    @property
    def config(self):
        """The resolved SearchConfig the run was started with."""
        from archspace.search.config import config_from_dict, read_yaml

        return config_from_dict(read_yaml(self.path / "config.yaml"), where=str(self.path / "config.yaml"))

    @property
    def objectives(self) -> list[tuple[str, str]]:
        return [(o["name"], o["direction"]) for o in self.meta["objectives"]]

    @property
    def storage_url(self) -> str:
        """The study's storage: the journal file's path for the embedded one, else the URL given to this process
        (with its password) or the one given at the start (redacted when it had a password)."""
        url = self._storage or self.meta["storage"]
        return str(self.path / JOURNAL) if url == JOURNAL else url

    @property
    def storage_shown(self) -> str:
        """The storage as printed and written: never a password (storage.redact)."""
        from archspace.search.storage import redact

        return redact(self.storage_url)

    def load_study(self):
        """The run's Optuna study (read it with any Optuna tool, e.g. optuna-dashboard on the journal file); one line,
        and no empty journal made, where the embedded journal is absent (a committed result keeps only its files)."""
        import optuna

        if self.meta["storage"] == JOURNAL and not self.journal_path.is_file():
            raise ArchspaceError(f"{self.path}: has no {JOURNAL} (the study's storage); trials.csv holds the trials")

        return optuna.load_study(study_name=self.study_name, storage=open_storage(self.storage_url))

    @property
    def study_name(self) -> str:
        return self.meta["study_name"]

    @property
    def journal_path(self) -> Path:
        return self.path / JOURNAL

    def genotype_path(self, genotype_id: str) -> Path:
        return self.path / "genotypes" / f"{genotype_id}.json"

    def trials(self):
        """trials.csv as a pandas DataFrame (empty, with the columns, before the first trial ends)."""
        import pandas as pd

        path = self.path / "trials.csv"
        if not path.is_file():
            return pd.DataFrame(columns=list(COLUMNS))
        return pd.read_csv(path, dtype={"genotype_id": str, "error": str})

    # -- writing ---------------------------------------------------------------------------------
    def write_bytes(self, relpath: str, data: bytes) -> Path:
        target = self.path / relpath
        atomic.write_bytes(target, data)
        return target

    def write_text(self, relpath: str, text: str) -> Path:
        return self.write_bytes(relpath, text.encode("utf-8"))

    def write_json(self, relpath: str, data: Any) -> Path:
        return self.write_text(relpath, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")

    def read_cache(self, relpath: str) -> dict[str, Any]:
        """A JSON cache in the run ({} when absent or unreadable: its rows are then evaluated again)."""
        try:
            return json.loads((self.path / relpath).read_text()) if (self.path / relpath).is_file() else {}
        except json.JSONDecodeError:
            return {}


class JournalFile:
    """The embedded storage: Optuna's JournalFileBackend, without an fsync per append.

    Optuna fsyncs every append (every suggested parameter and user attribute: ~40 per trial), which
    caps a search at ~3 trials/s here; without it, ~23/s (benchmarks/storage_crash.py, the runner's
    infeasible-sample rate). A process killed with SIGKILL loses nothing either way: its writes are in
    the kernel's page cache. Only an OS crash can lose the last appends, and `repair_journal` cuts a
    torn last line before the next run appends behind it.
    """

    @staticmethod
    def backend(path: str):
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
        from optuna.storages.journal._file import get_lock_file

        class _Backend(JournalFileBackend):
            def append_logs(self, logs: list[dict[str, Any]]) -> None:
                with get_lock_file(self._lock):
                    text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
                    with open(self._file_path, "ab") as f:
                        f.write(text.encode("utf-8"))

        # The lock is held for one append (ms); a holder killed by SIGKILL leaves it behind, and the
        # next writer takes it over after `grace_period` seconds.
        return _Backend(path, lock_obj=JournalFileOpenLock(path, grace_period=10))


def repair_journal(path: Path) -> bool:
    """Cut a torn last line (no newline: the writer's machine crashed mid-append); True if it did."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return False
        data = f.seek(0) or f.read()
        f.truncate(data.rfind(b"\n") + 1)
    return True


def open_storage(url: str, heartbeat_s: int | None = None, on_stale=None):
    """An Optuna storage for `url`: a journal file (`journal:PATH` or a path ending in .journal) or any RDB URL
    (with Optuna's heartbeat every `heartbeat_s` and `on_stale` for a trial silent for 3 beats, when given)."""
    from optuna.storages.journal import JournalStorage

    if url.startswith("journal:") or url.endswith(".journal"):
        return JournalStorage(JournalFile.backend(url.removeprefix("journal:")))
    from archspace.search.storage import rdb_storage

    return rdb_storage(url, heartbeat_s, on_stale)
