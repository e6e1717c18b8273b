"""The search's locks: one `archspace search` per run folder, and one asker at a time per study.

- `run_lock(run)`: held by the command for its whole run (workers of one search share it).
- `claim_lock(url, study, fallback)`: held while a worker counts the study's trials and asks a new one, so
  workers on different machines never ask past the target between them: a PostgreSQL advisory lock
  (released by the server when a worker's connection dies), MySQL's GET_LOCK, else a lock file beside
  the storage. File locks are released by the OS when their holder dies.
"""
from __future__ import annotations

import fcntl
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from archspace.errors import ArchspaceError
from archspace.search.storage import dialect, engine_url, missing_driver


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path`, waited for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def run_lock(run) -> Iterator[None]:
    """One `archspace search` per run folder at a time; a second one stops at once with one line."""
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


@contextmanager
def claim_lock(storage_url: str, study_name: str, fallback: Path) -> Iterator[None]:
    """Held while a worker counts the study's trials and asks the next one (one study-wide critical section)."""
    kind = dialect(storage_url)
    if kind not in ("postgresql", "postgres", "mysql"):
        if storage_url.startswith("sqlite:///"):
            fallback = Path(storage_url.removeprefix("sqlite:///") + ".archspace-lock")
        with locked(fallback):
            yield
        return
    import sqlalchemy

    key = zlib.crc32(f"archspace:{study_name}".encode()) - 2**31  # a signed 32-bit advisory-lock key
    with _lock_engine(storage_url).connect() as conn:
        if kind == "mysql":
            conn.execute(sqlalchemy.text("SELECT GET_LOCK(:k, -1)"), {"k": f"archspace:{study_name}"})
        else:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            if kind == "mysql":
                conn.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:k)"), {"k": f"archspace:{study_name}"})
            else:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


_ENGINES: dict[str, object] = {}


def _lock_engine(url: str):
    import sqlalchemy

    if url not in _ENGINES:
        try:
            _ENGINES[url] = sqlalchemy.create_engine(engine_url(url), pool_size=1, pool_pre_ping=True)
        except ImportError as err:
            raise missing_driver(url, err) from None
    return _ENGINES[url]
