"""A default local Ray run exposes nothing to the network and keeps trials.csv current; an unanswered --address gives up.

The run is the command a user types (`archspace search CONFIG --backend ray`, no --address) in a subprocess;
while it runs, the test lists the machine's listening TCP sockets (/proc/net/tcp, tcp6) and trials.csv."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from searchutils import tiny_config

pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def listening() -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket of the machine."""
    out = set()
    for family, path in ((socket.AF_INET, "/proc/net/tcp"), (socket.AF_INET6, "/proc/net/tcp6")):
        try:
            lines = Path(path).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            hexip, hexport = fields[1].split(":")
            raw = bytes.fromhex(hexip)
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # /proc prints each 32-bit word in host order
            out.add((socket.inet_ntop(family, raw), int(hexport, 16)))
    return out


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def test_a_default_local_ray_run_listens_on_loopback_only_and_writes_rows_as_trials_finish(tmp_path):
    if not Path("/proc/net/tcp").is_file():
        pytest.skip("no /proc/net/tcp to list listening sockets")
    train = {"kind": "train", "epochs": 3, "batch_size": 16, "max_steps_per_epoch": 40}
    data = {"name": "digits", "image_size": 32, "max_val": 32}
    cfg = tiny_config(tmp_path, name="ray_local", trials=3, budgets={}, evaluator=train, data=data)
    out = tmp_path / "out"
    before = listening()
    proc = subprocess.Popen([sys.executable, "-m", "archspace.cli", "search", str(cfg), "--out", str(out), "--backend", "ray",
                             "--workers", "1", "--quiet"], env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[tuple[str, int]] = set()
    partial = False  # a finished row in trials.csv while other trials were still to finish
    t0 = time.time()
    try:
        while proc.poll() is None:
            assert time.time() - t0 < 400, "the Ray run did not finish"
            seen |= listening() - before
            if (out / "trials.csv").is_file():
                states = pd.read_csv(out / "trials.csv")["state"].tolist()
                partial |= 0 < sum(s != "RUNNING" for s in states) < 3
            time.sleep(0.3)
        _, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert len(seen) >= 3, f"the gcs, raylet and workers were seen listening: {sorted(seen)}"
    exposed = sorted(s for s in seen if s[0] not in LOOPBACK)
    assert not exposed, f"listening beyond loopback: {exposed}"
    assert partial, "trials.csv held finished rows while the run went on"
    df = pd.read_csv(out / "trials.csv")
    assert len(df) == 3 and not [c for c in df.columns if c.startswith("eval:config")]


def test_an_address_nothing_answers_gives_up_in_bounded_time_with_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tiny_config(tmp_path, trials=1)
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "archspace.cli", "search", str(cfg), "--out", str(tmp_path / "out"), "--backend", "ray",
                        "--address", f"127.0.0.1:{port}", "--quiet"], env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and time.time() - t0 < 60
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines == [f"archspace: error: --address 127.0.0.1:{port}: cannot join the Ray cluster: nothing answered there in 10 s "
                     "(Connection refused)"], r.stderr
