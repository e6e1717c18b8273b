"""Search efficiency: hypervolume after N trials of TPE and NSGA-II against random search at equal trials.

Each sampler runs the real runner (in-process) on the same search config -- by default the quickstart:
the hybrid space under its FLOPs budget, score = a zero-cost proxy on digits, objectives score vs FLOPs
-- for N trials and several seeds. The hypervolume of each run's feasible front is taken against one
reference point shared by all runs (the budget on FLOPs, the lowest feasible score any run found), and
printed per sampler with its ratio to random search.

    python benchmarks/search_efficiency.py --trials 40 --seeds 3
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def hypervolume_2d(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    """Area dominated by (score, cost) `points` (score maximised, cost minimised) within ref = (score_min, cost_max)."""
    from archspace.pareto import Objective, hypervolume

    if not points:
        return 0.0
    return hypervolume(points, [Objective("score", "maximize"), Objective("cost", "minimize")], ref)


def main() -> None:
    import optuna

    from archspace.search.config import load_config
    from archspace.search.runner import search

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "searches" / "quickstart.yaml"))
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--samplers", default="random,tpe,nsgaii")
    ap.add_argument("--batch-size", type=int, default=None, help="override the proxy's batch size (cheaper evaluations)")
    ap.add_argument("--seed-list", default=None, help="run these seeds (e.g. 1,2) instead of 0..seeds-1")
    ap.add_argument("--json", default=None, help="also save the runs' points to this file (for --combine)")
    ap.add_argument("--combine", nargs="+", default=None, help="print the table for runs saved by --json (no new runs)")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    base = load_config(args.config)
    if len(base.objectives) != 2 or base.objectives[1].name not in ("flops", "params") or base.budgets.flops is None:
        raise SystemExit("the config must have objectives [score, flops] and a FLOPs budget")
    options = {"random": {}, "tpe": {"n_startup_trials": 10, "multivariate": True, "group": True},
               "nsgaii": {"population_size": 10}}
    if args.batch_size:
        base = base.model_copy(update={"evaluator": {**base.evaluator, "batch_size": args.batch_size}})
    runs: dict[str, list[dict]] = {}
    if args.combine:
        for path in args.combine:
            for kind, rs in json.loads(Path(path).read_text()).items():
                runs.setdefault(kind, []).extend(rs)
        return report(runs, base, args)
    seeds = [int(x) for x in args.seed_list.split(",")] if args.seed_list else list(range(args.seeds))
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.samplers.split(","):
            for seed in seeds:
                cfg = base.model_copy(update={"sampler": base.sampler.model_copy(update={"kind": kind, "options": options[kind]}),
                                              "seed": seed, "trials": args.trials})
                t0 = time.perf_counter()
                run, s = search(cfg, Path(tmp) / f"{kind}-{seed}", quiet=True, in_process=True)
                df = run.trials()
                ok = df[df["state"] == "COMPLETE"]
                runs.setdefault(kind, []).append({
                    "points": list(zip(ok["score"].astype(float), ok["flops"].astype(float), ok["number"].astype(int))),
                    "feasible": s["feasible_share"], "seconds": time.perf_counter() - t0,
                })
                print(f"{kind:7s} seed {seed}: {len(ok)} evaluated, feasible share {s['feasible_share']:.0%}, "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(runs))
    report(runs, base, args)


def report(runs: dict[str, list[dict]], base, args) -> None:
    """Hypervolume per sampler at N/2 and N trials against one shared reference point, with ratios to random."""
    all_scores = [p[0] for rs in runs.values() for r in rs for p in r["points"]] or [0.0]
    ref = (min(all_scores), float(base.budgets.flops))
    print(f"\nhypervolume after {args.trials} trials (score x FLOPs, reference: score {ref[0]:.4g}, FLOPs {ref[1]:.3g}); "
          f"{min(len(rs) for rs in runs.values())} seeds per sampler; config {Path(args.config).name}")
    for n in sorted({args.trials // 2, args.trials}):
        print(f" after {n} trials:")
        hv = {k: [hypervolume_2d([(s, c) for s, c, num in r["points"] if num < n], ref) for r in rs] for k, rs in runs.items()}
        rand = statistics.mean(hv["random"]) if "random" in hv else None
        for kind, values in hv.items():
            mean = statistics.mean(values)
            ratio = f"{mean / rand:.2f}x random" if rand else ""
            print(f"  {kind:7s} HV mean {mean:.4g} (per seed {', '.join(f'{v:.4g}' for v in values)})  {ratio}")
    for kind, rs in runs.items():
        print(f" {kind:7s} feasible share {statistics.mean(r['feasible'] for r in rs):.0%}, "
              f"{statistics.mean(r['seconds'] for r in rs):.0f} s per run")


if __name__ == "__main__":
    main()
