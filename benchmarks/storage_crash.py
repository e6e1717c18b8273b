"""Which embedded Optuna storage survives several writers and kill -9: JournalFileBackend vs SQLite.

For each backend, W processes run ask/tell loops on one study (a trial takes ~5 ms); every `period`
seconds one of them is killed with SIGKILL and replaced, `kills` times. Then the study is reloaded and
checked: it opens, every trial number is unique, and the finished trials are counted. Storage errors
raised inside the writers (e.g. "database is locked") are counted from their exit codes.

    python benchmarks/storage_crash.py --workers 4 --kills 10
"""
from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time

WRITER = r"""
import sys, time, optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage
url = sys.argv[1]
storage = (JournalStorage(JournalFileBackend(url, lock_obj=JournalFileOpenLock(url, grace_period=10)))
           if url.endswith(".journal") else optuna.storages.get_storage(url))  # as archspace.search.rundir.open_storage
study = optuna.load_study(study_name="crash", storage=storage, sampler=optuna.samplers.RandomSampler())
try:
    while True:
        t = study.ask()
        x = t.suggest_float("x", 0, 1)
        t.set_user_attr("genotype", "g" * 200)
        time.sleep(0.005)
        study.tell(t, x)
except Exception as err:
    print(type(err).__name__, err, file=sys.stderr)
    sys.exit(3)
"""


def run(url: str, workers: int, kills: int, period: float, seed: int) -> dict:
    import optuna

    from archspace.search.rundir import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    optuna.create_study(study_name="crash", storage=open_storage(url))
    rng = random.Random(seed)
    spawn = lambda: subprocess.Popen([sys.executable, "-c", WRITER, url], stderr=subprocess.PIPE, text=True)  # noqa: E731
    procs = [spawn() for _ in range(workers)]
    errors, killed = [], 0
    t0 = time.time()
    while killed < kills:
        time.sleep(period * (0.5 + rng.random()))
        for p in [p for p in procs if p.poll() is not None]:
            errors.append(p.stderr.read().strip().splitlines()[-1:] or [f"exit {p.returncode}"])
            procs.remove(p)
            procs.append(spawn())
        victim = rng.choice(procs)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        procs.remove(victim)
        procs.append(spawn())
        killed += 1
    time.sleep(period)
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait()
    wall = time.time() - t0
    try:
        trials = optuna.load_study(study_name="crash", storage=open_storage(url)).get_trials(deepcopy=False)
    except Exception as err:  # noqa: BLE001 -- the point is to see whether it opens
        return {"opens": False, "error": f"{type(err).__name__}: {err}", "writer_errors": len(errors)}
    numbers = [t.number for t in trials]
    done = sum(t.state.name == "COMPLETE" for t in trials)
    return {"opens": True, "trials": len(trials), "unique_numbers": len(set(numbers)) == len(numbers),
            "complete": done, "running_left": sum(t.state.name == "RUNNING" for t in trials),
            "writer_errors": len(errors), "first_error": errors[0][0] if errors else "", "trials_per_s": done / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--period", type=float, default=1.5, help="mean seconds between kills")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in (("journal", f"{tmp}/study.journal"), ("sqlite", f"sqlite:///{tmp}/study.db")):
            r = run(url, args.workers, args.kills, args.period, args.seed)
            print(name.ljust(8), "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
