"""Files written through archspace.atomic get the mode a plain open() would give them (the umask's), not mkstemp's 0600."""
from __future__ import annotations

import os

from archspace import atomic


def test_atomic_writes_respect_the_umask_and_keep_an_existing_mode(tmp_path):
    old = os.umask(0o022)
    try:
        made = atomic.write_text(tmp_path / "a.json", "{}")
        assert made.stat().st_mode & 0o777 == 0o644
        os.umask(0o027)
        assert atomic.write_json(tmp_path / "b.json", {}).stat().st_mode & 0o777 == 0o640
        os.chmod(made, 0o600)  # a file its owner made private stays private when rewritten
        assert atomic.write_text(made, "[]").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
