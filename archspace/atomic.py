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


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (tmp file in the same folder, fsync, os.replace); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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
