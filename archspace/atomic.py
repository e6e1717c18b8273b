"""Atomic file output: write to a temporary file beside the target, flush it to disk, rename it over.

A reader (or a run restarted after kill -9) sees the old file or the new one, never half of one.
`set_aside` moves a corrupt file out of the way (keeping it for inspection) so it can be rebuilt.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (/proc/self/status), else set and restored."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode(path: Path) -> int:
    """The mode a plain open() would leave: an existing file's own, else 0666 less the umask (mkstemp's is 0600)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (tmp file in the same folder, fsync, os.replace); returns the path. The file
    gets the mode open() would give it (the umask's, or the replaced file's), not mkstemp's private 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _mode(path))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, value: Any, indent: int | None = 1) -> Path:
    """Write `value` as JSON (keys sorted) to `path` atomically."""
    return write_text(path, json.dumps(value, indent=indent, sort_keys=True) + "\n")


def set_aside(path: str | Path, reason: str) -> Path:
    """Rename a corrupt file to `<name>.corrupt-<unix time>` and warn on stderr; returns the new path."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.corrupt-{int(time.time() * 1000)}")
    os.replace(path, aside)
    print(f"archspace: warning: {path} is corrupt ({reason}); moved it to {aside.name} and starting a new one", file=sys.stderr)
    return aside
