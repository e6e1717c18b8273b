"""archspace.worker_pool on real spawned processes: results as they finish, a worker killed from outside is one line
naming what it was training (after what finished came back), and Ctrl-C or an early stop does not wait out a training."""
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from archspace.errors import ArchspaceError
from archspace.worker_pool import in_workers

LONG_S = 120.0  # a training that the tests below must never wait for


def nap(seconds: float, pid_file: str | None = None) -> float:
    """A job: say this worker's pid in `pid_file`, then sleep."""
    if pid_file:
        Path(pid_file).write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds


def _pid(path: Path) -> int:
    t0 = time.time()
    while not path.exists() or not path.read_text():
        assert time.time() - t0 < 60, "the long job never started"
        time.sleep(0.05)
    return int(path.read_text())


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_every_result_comes_back_with_its_index_and_each_job_is_announced():
    announced: list[int] = []
    out = list(in_workers(nap, [(0.3,), (0.0,), (0.1,)], 2, str, announced.append))
    assert sorted(out) == [(0, 0.3), (1, 0.0), (2, 0.1)]
    assert sorted(announced) == [0, 1, 2] and announced[:2] == [0, 1]  # two at a time, in order


def test_a_killed_worker_is_one_line_naming_its_training_after_what_finished(tmp_path):
    pid_file = tmp_path / "pid"
    labels = ["quick one", "long one"]
    results = in_workers(nap, [(0.0,), (LONG_S, str(pid_file))], 2, labels.__getitem__)
    assert next(results) == (0, 0.0)
    os.kill(_pid(pid_file), signal.SIGKILL)
    t0 = time.time()
    with pytest.raises(ArchspaceError) as err:
        next(results)
    assert time.time() - t0 < 30
    message = str(err.value)
    assert "\n" not in message and "worker process died" in message and "while training long one;" in message
    assert "quick one" not in message


def test_closing_early_terminates_the_workers_without_waiting(tmp_path):
    pid_file = tmp_path / "pid"
    results = in_workers(nap, [(0.0,), (LONG_S, str(pid_file))], 2, str)
    assert next(results) == (0, 0.0)
    pid = _pid(pid_file)
    t0 = time.time()
    results.close()
    assert time.time() - t0 < 30 and _gone(pid)


def test_ctrl_c_while_waiting_stops_the_workers_at_once(tmp_path):
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a Ctrl-C is a KeyboardInterrupt, whatever an earlier test installed
    try:
        _ctrl_c_while_waiting(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_while_waiting(tmp_path):
    pid_file = tmp_path / "pid"
    results = in_workers(nap, [(LONG_S, str(pid_file))] * 2, 2, str)
    timer = threading.Timer(0.0, lambda: (_pid(pid_file), time.sleep(1.0), os.kill(os.getpid(), signal.SIGINT)))
    timer.start()
    t0 = time.time()
    with pytest.raises(KeyboardInterrupt):
        next(results)
    timer.join()
    assert time.time() - t0 < 60 and _gone(_pid(pid_file))
