"""A real PostgreSQL server for tests: initdb + pg_ctl in a temporary folder, on 127.0.0.1 and a free port.

PostgreSQL refuses to run as root, so under root (CI, containers) the server runs as the unprivileged
user `nobody` (runuser). Skips, with the reason, only where the binaries are missing or cannot run.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN_DIRS = ("/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def _binary(name: str) -> str | None:
    return shutil.which(name) or next((f"{d}/{name}" for d in BIN_DIRS if os.access(f"{d}/{name}", os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throwaway server; yields its SQLAlchemy URL (postgresql+psycopg://archspace@127.0.0.1:PORT/postgres)."""
    pytest.importorskip("psycopg", reason='the PostgreSQL driver is missing: pip install -e ".[postgres]"')
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin")
    prefix: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="archspace-pg-"))
    if os.geteuid() == 0:  # postgres will not run as root
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        user = pwd.getpwnam("nobody")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = [runuser, "-u", "nobody", "--"]
    data, port = folder / "data", _free_port()
    try:
        r = subprocess.run([*prefix, initdb, "-D", str(data), "-U", "archspace", "--auth=trust", "-E", "UTF8", "-N"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            pytest.skip(f"initdb cannot run here: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
        opts = f"-p {port} -h 127.0.0.1 -k {folder} -F -c max_connections=50"
        r = subprocess.run([*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(folder / "server.log"), "-w", "-t", "60", "start"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            log = (folder / "server.log").read_text() if (folder / "server.log").is_file() else r.stderr
            pytest.skip(f"the PostgreSQL server did not start: {(log.strip().splitlines() or ['?'])[-1]}")
        yield f"postgresql+psycopg://archspace@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").is_file():
            subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
