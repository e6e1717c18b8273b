"""Throughput of the search backends side by side: trials per minute and overhead per trial.

The same search (a config's space, budgets and proxy evaluator; default the quickstart's synflow proxy on
digits) runs with 1 and 2 workers on each backend: the embedded journal file, a PostgreSQL server
(started here with initdb/pg_ctl as in the tests; skipped where it cannot run) and Ray Tune on a local
instance (workers = trials at once). For each run:

- wall_s: the whole command (process start, study, workers or Ray start, trials);
- start_s: until the first trial started;
- trials/min: finished trials over the span from the first trial's start to the last one's end;
- overhead_s: span x workers / trials - mean evaluator time per trial (eval:eval_seconds, 0 for
  infeasible samples): what a trial costs beyond its evaluation (sampling, costs, storage, dispatch).

Every run samples the same genotypes (same seed), so an unreported warm-up run first fills the cost
caches that would otherwise favour whichever run comes second.

    python benchmarks/scale.py --trials 12
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def measure(backend: str, workers: int, cfg, storage: str | None, out: Path) -> dict:
    from archspace.search.runner import search

    t0 = time.time()
    if backend == "ray":
        from archspace.search.ray_backend import search_ray

        run, _ = search_ray(cfg, out, storage=storage, max_concurrent=workers, num_cpus=2, quiet=True)
    else:
        run, _ = search(cfg.model_copy(update={"workers": workers}), out, storage=storage, quiet=True)
    wall = time.time() - t0
    trials = [t for t in run.load_study().trials if t.datetime_start and t.datetime_complete]
    first = min(t.datetime_start for t in trials).timestamp()
    span = max(t.datetime_complete for t in trials).timestamp() - first
    evaluation = sum(float(t.user_attrs.get("eval:eval_seconds", 0.0)) for t in trials) / len(trials)
    return {"backend": backend, "workers": workers, "trials": len(trials), "wall_s": wall, "start_s": first - t0,
            "per_min": 60 * len(trials) / span, "overhead_s": span * workers / len(trials) - evaluation, "eval_s": evaluation}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "searches" / "quickstart.yaml"))
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--backends", nargs="+", default=["journal", "postgres", "ray"], choices=["journal", "postgres", "ray"])
    args = p.parse_args()

    import torch

    from archspace.search.runner import resolve_config

    torch.set_num_threads(1)
    rows, tmp = [], Path(tempfile.mkdtemp(prefix="archspace-scale-"))
    # every run samples the same genotypes (same seed): one unreported run first fills the cost caches for all
    measure("journal", 2, resolve_config(args.config, trials=args.trials, seed=0).model_copy(update={"name": "scale_warmup"}),
            None, tmp / "warmup")
    pg = None
    for backend in args.backends:
        storage = None
        if backend == "postgres":
            from contextlib import ExitStack

            from pgserver import postgres_server

            pg = ExitStack()
            try:
                storage = pg.enter_context(postgres_server())
            except BaseException as err:  # pytest.skip outside pytest: report the reason and go on
                print(f"postgres: skipped ({err})")
                continue
        for w in args.workers:
            name = f"scale_{backend}_{w}"
            cfg = resolve_config(args.config, trials=args.trials, seed=0).model_copy(update={"name": name})
            row = measure("ray" if backend == "ray" else backend, w, cfg, storage, tmp / name)
            row["backend"] = backend
            rows.append(row)
            print(f"{backend:9s} workers={w}: {row['trials']} trials, {row['per_min']:.1f}/min, "
                  f"overhead {row['overhead_s']:.2f} s/trial, start {row['start_s']:.1f} s, wall {row['wall_s']:.1f} s", flush=True)
        if pg is not None:
            pg.close()
            pg = None
    print()
    print(f"{'backend':9s} {'workers':>7s} {'trials':>6s} {'trials/min':>10s} {'overhead s':>10s} {'eval s':>7s} {'start s':>7s} {'wall s':>7s}")
    for r in rows:
        print(f"{r['backend']:9s} {r['workers']:7d} {r['trials']:6d} {r['per_min']:10.1f} {r['overhead_s']:10.2f} "
              f"{r['eval_s']:7.2f} {r['start_s']:7.1f} {r['wall_s']:7.1f}")
    base = {r["workers"]: r["per_min"] for r in rows if r["backend"] == "journal"}
    for r in rows:
        if r["backend"] != "journal" and r["workers"] in base:
            print(f"{r['backend']} / journal at {r['workers']} worker(s): {r['per_min'] / base[r['workers']]:.2f}x trials/min")


if __name__ == "__main__":
    main()
