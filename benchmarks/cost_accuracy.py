"""Analytic cost vs build + fvcore: relative error over the zoo and random genotypes, and the speed ratio.

    python benchmarks/cost_accuracy.py                 # the zoo and 100 random genotypes (a few minutes on 2 cores)
    python benchmarks/cost_accuracy.py --random 200    # more random genotypes
    python benchmarks/cost_accuracy.py --no-zoo        # random genotypes only

Prints ratios measured side by side in one run, not absolute claims.
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import torch

import archspace
from archspace.cost.analytic import analytic_cost
from archspace.cost.counting import count_model
from archspace.cost.random import random_genotypes

ROOT = Path(__file__).resolve().parent.parent


def compare(genotypes: list) -> dict:
    """Relative errors and timings of analytic vs build + fvcore, one genotype at a time."""
    param_err, flop_err, slow, fast, uncounted = [], [], [], [], {}
    for g in genotypes:
        start = time.perf_counter()
        counts = count_model(archspace.build(g), g.image_size, g.in_chans)
        slow.append(time.perf_counter() - start)
        start = time.perf_counter()
        reps = 20
        for _ in range(reps):
            total = analytic_cost(g).total
        fast.append((time.perf_counter() - start) / reps)
        param_err.append(abs(total.params - counts.params) / counts.params)
        flop_err.append(abs(total.flops - counts.flops) / counts.flops)
        for op, n in counts.uncounted_ops.items():
            uncounted[op] = uncounted.get(op, 0) + n
    return {"n": len(genotypes), "param_err": param_err, "flop_err": flop_err, "slow": slow, "fast": fast, "uncounted": uncounted}


def report(name: str, r: dict) -> None:
    ratios = [s / f for s, f in zip(r["slow"], r["fast"])]
    print(f"{name}: {r['n']} genotypes")
    print(f"  |analytic - fvcore| / fvcore  params: max {max(r['param_err']):.2e}  mean {statistics.mean(r['param_err']):.2e}")
    print(f"                                FLOPs:  max {max(r['flop_err']):.2e}  mean {statistics.mean(r['flop_err']):.2e}")
    print(f"  exact (params and FLOPs):     {sum(p == 0 and f == 0 for p, f in zip(r['param_err'], r['flop_err']))}/{r['n']}")
    print(f"  speed, build + fvcore / analytic: total {sum(r['slow']) / sum(r['fast']):.0f}x, "
          f"median per genotype {statistics.median(ratios):.0f}x, min {min(ratios):.0f}x")
    print(f"  ops fvcore skipped that may carry multiply-adds: {r['uncounted'] or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--random", type=int, default=100, help="random genotypes (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-zoo", action="store_true", help="skip the shipped genotypes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    if not args.no_zoo:
        zoo = [archspace.load_genotype(p) for p in sorted((ROOT / "genotypes").glob("*.json"))]
        report("zoo (genotypes/*.json)", compare(zoo))
    if args.random:
        report(f"random (seed {args.seed})", compare(random_genotypes(args.random, args.seed)))


if __name__ == "__main__":
    main()
