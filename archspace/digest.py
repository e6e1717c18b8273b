"""Content digests of files: the sha256 of a file's bytes, read in chunks (a supernet checkpoint may be large)."""
from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of the bytes of `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
