"""Search efficiency on true accuracy: random, TPE, NSGA-II and GP searching a trained-architecture table.

    python benchmarks/search_efficiency.py                          # the digit_twins table, 10 seeds, 30 trials
    python benchmarks/search_efficiency.py --table DIR --trials 40 --seeds 10 --budget 2.0G

The table (`archspace bench build`) holds a uniform sample of the space, not every architecture, so a sampler
searches the table's architectures through their genes: each architecture is the vector of its space parameters
(`SearchSpace.encode`; numbers scaled to [0, 1] over the table, choices one-hot), the sampler suggests a point of
[0, 1]^d, and the trial evaluates the nearest architecture it has not evaluated yet (the usual nearest-neighbour
reading of a sampled benchmark). Objectives: the table's test accuracy (mean over seeds, maximised) and FLOPs at the
space's target size (minimised) under a FLOPs budget (default: the table's median), as `archspace search` scores
them. Printed per sampler: the hypervolume after the trials (mean +- std over seeds, against one reference point:
the table's lowest accuracy and the budget), its share of the table's own hypervolume, and how many trials reach
95% of the table's hypervolume (median over seeds; '>' when some seeds never do).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def features(space, rows: list[dict[str, Any]]) -> np.ndarray:
    """One row per architecture: its space parameters, numbers min-max scaled, categories one-hot, absent genes 0."""
    from archspace.genotype.io import genotype_from_dict

    params = [space.encode(genotype_from_dict(r["genotype"])) for r in rows]
    names = sorted({k for p in params for k in p})
    columns = []
    for name in names:
        values = [p.get(name) for p in params]
        present = [v for v in values if v is not None]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            lo, hi = min(present), max(present)
            columns.append([0.0 if v is None or hi == lo else (v - lo) / (hi - lo) for v in values])
        else:
            for option in sorted({repr(v) for v in present}):
                columns.append([1.0 if v is not None and repr(v) == option else 0.0 for v in values])
    return np.asarray(columns, dtype=float).T


def hypervolume(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    from archspace.pareto import Objective, hypervolume as hv

    return hv(points, [Objective("acc", "maximize"), Objective("flops", "minimize")], ref) if points else 0.0


def run(sampler_name: str, seed: int, feats: np.ndarray, acc: np.ndarray, flops: np.ndarray, budget: float,
        trials: int, ref: tuple[float, float]) -> list[float]:
    """Hypervolume after each trial of one search."""
    import optuna

    samplers = {
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True),
        "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed, population_size=10),
        "gp": lambda: optuna.samplers.GPSampler(seed=seed, n_startup_trials=10),
    }
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=samplers[sampler_name]())
    left = set(range(len(acc)))
    found: list[tuple[float, float]] = []
    curve = []
    for _ in range(min(trials, len(acc))):
        trial = study.ask()
        x = np.array([trial.suggest_float(f"x{j}", 0.0, 1.0) for j in range(feats.shape[1])])
        pick = min(left, key=lambda i: float(((feats[i] - x) ** 2).sum()))
        left.discard(pick)
        study.tell(trial, [float(acc[pick]), float(flops[pick])])
        if flops[pick] <= budget:
            found.append((float(acc[pick]), float(flops[pick])))
        curve.append(hypervolume(found, ref))
    return curve


def main() -> int:
    import optuna

    from archspace.bench.store import TableStore
    from archspace.search.limits import parse_amount
    from archspace.search.space import SearchSpace

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", type=Path, default=ROOT / "results" / "hybrid_digit_twins_table")
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--budget", default=None, help="FLOPs budget at the target size, e.g. 2G (default: the table's median)")
    p.add_argument("--samplers", nargs="*", default=["random", "tpe", "nsga2", "gp"])
    args = p.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    store = TableStore(args.table)
    protocol, rows = store.protocol(), store.rows()
    by_arch: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["source"] == "random":
            by_arch.setdefault(r["arch_id"], []).append(r)
    table = [rs[0] for rs in by_arch.values()]
    acc = np.array([statistics.fmean(r["test_acc"] for r in by_arch[t["arch_id"]]) for t in table])
    flops = np.array([float(t["flops_target"]) for t in table])
    budget = float(parse_amount(args.budget)) if args.budget else float(np.median(flops))
    feats = features(SearchSpace.from_file(protocol.space), table)
    ref = (float(acc.min()), budget)
    best = hypervolume([(a, f) for a, f in zip(acc, flops) if f <= budget], ref)
    print(f"table {args.table}: {len(table)} random architectures, {feats.shape[1]} features; budget {budget / 1e9:.2f} GFLOPs "
          f"({int((flops <= budget).sum())} within it); reference point (acc {100 * ref[0]:.1f}%, {budget / 1e9:.2f} G); "
          f"table hypervolume {best:.4g}; {args.trials} trials x {args.seeds} seeds")
    print(f"{'sampler':<8} {'HV after trials':>22} {'share of table':>15} {'trials to 95%':>14}")
    for name in args.samplers:
        curves = [run(name, seed, feats, acc, flops, budget, args.trials, ref) for seed in range(args.seeds)]
        final = [c[-1] for c in curves]
        reach = [next((k + 1 for k, v in enumerate(c) if v >= 0.95 * best), None) for c in curves]
        hit = sorted(r for r in reach if r is not None)
        reach_text = (f"{statistics.median(hit):.0f}" if len(hit) == len(reach) else f">{args.trials} ({len(hit)}/{len(reach)} seeds)")
        print(f"{name:<8} {statistics.fmean(final):>13.4g} +- {statistics.pstdev(final):<7.2g}"
              f"{statistics.fmean(final) / best:>14.1%} {reach_text:>14}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
