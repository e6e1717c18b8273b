"""A small sqlite store of measured results, keyed by genotype id + device fingerprint + settings.

A search measures each network at most once per device and settings: `ResultCache.get_or_compute`
returns the stored value when the key is present. The store lives under the cache directory
(`$ARCHSPACE_CACHE`, default `~/.cache/archspace`).
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from archspace.atomic import set_aside


def cache_dir() -> Path:
    """`$ARCHSPACE_CACHE`, or `~/.cache/archspace`."""
    return Path(os.environ.get("ARCHSPACE_CACHE") or Path.home() / ".cache" / "archspace")


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A short hash of the source that decides what a network runs (ops, blocks, builder).

    Part of every latency key, so that editing an op never serves a latency measured before the edit.
    """
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted([*root.joinpath("ops").glob("*.py"), root / "blocks.py", root / "builder.py"]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class ResultCache:
    """Results (JSON values) under (what, genotype id, fingerprint, settings) in one sqlite file."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else cache_dir() / "results.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._guarded(self._create)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def _create(self) -> None:
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, what TEXT, genotype TEXT, value TEXT, created REAL)")
            db.execute("SELECT COUNT(*) FROM results").fetchone()

    def _guarded(self, action: Callable[[], Any]) -> Any:
        """Run `action`; if the file is not a sound sqlite database, set it aside, start a new one and retry.

        A locked or busy database (sqlite3.OperationalError) is not corruption and is raised as is.
        """
        try:
            return action()
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as err:
            set_aside(self.path, str(err))
            self._create()
            return action()

    @staticmethod
    def key(what: str, genotype_id: str, fingerprint: dict[str, Any], settings: dict[str, Any]) -> str:
        """A stable key: sha256 of the canonical JSON of all four parts."""
        text = _canonical({"what": what, "genotype": genotype_id, "fingerprint": fingerprint, "settings": settings})
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, what: str, genotype_id: str, fingerprint: dict[str, Any], settings: dict[str, Any]) -> Any | None:
        """The stored value, or None."""
        key = self.key(what, genotype_id, fingerprint, settings)

        def read() -> Any:
            with self._connect() as db:
                return db.execute("SELECT value FROM results WHERE key = ?", (key,)).fetchone()

        row = self._guarded(read)
        try:
            return None if row is None else json.loads(row[0])
        except (TypeError, ValueError):  # a damaged value counts as a miss and is measured again
            return None

    def put(self, what: str, genotype_id: str, fingerprint: dict[str, Any], settings: dict[str, Any], value: Any) -> None:
        """Store `value` (JSON-serialisable), replacing any earlier one under the same key."""
        key = self.key(what, genotype_id, fingerprint, settings)

        def write() -> None:
            with self._connect() as db:
                db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)", (key, what, genotype_id, _canonical(value), time.time()))

        self._guarded(write)

    def get_or_compute(
        self, what: str, genotype_id: str, fingerprint: dict[str, Any], settings: dict[str, Any], compute: Callable[[], Any]
    ) -> tuple[Any, bool]:
        """(value, hit): the stored value if present, else `compute()` stored and returned."""
        value = self.get(what, genotype_id, fingerprint, settings)
        if value is not None:
            return value, True
        value = compute()
        self.put(what, genotype_id, fingerprint, settings, value)
        return value, False

    def __len__(self) -> int:
        def count() -> int:
            with self._connect() as db:
                return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

        return self._guarded(count)
