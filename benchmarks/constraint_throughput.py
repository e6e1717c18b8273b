"""Constraint-gated throughput: how fast infeasible samples go by, against what one evaluation costs.

Runs the real runner (in-process, embedded journal storage) on a config whose FLOPs budget almost no
sample meets, and reports infeasible samples per second end to end (sampling, analytic cost, Optuna's
constraint API, storage). Side by side: the budget check alone (analytic cost of the sampled genotypes)
and one feasible evaluation (adapt + build + proxy) of the same search.

    python benchmarks/constraint_throughput.py --trials 60
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    import optuna

    from archspace.genotype import genotype_from_dict
    from archspace.search.config import load_config
    from archspace.search.constraints import Coster
    from archspace.search.runner import evaluate_genotype, search

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "searches" / "quickstart.yaml"))
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--flops", default="0.2G", help="the tight budget (default 0.2G)")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    base = load_config(args.config)
    tight = base.model_copy(update={"trials": args.trials, "budgets": base.budgets.model_copy(update={"flops": float(args.flops.rstrip("G")) * 1e9})})
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        run, s = search(tight, Path(tmp) / "tight", quiet=True, in_process=True)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        df = run.trials()
        bad = df[df["state"] == "INFEASIBLE"]
        study = run.load_study()
        genotypes = [genotype_from_dict(__import__("json").loads(t.user_attrs["genotype"])) for t in study.trials if "genotype" in t.user_attrs]
        coster = Coster.for_config(tight)
        t1 = time.process_time()
        for g in genotypes:
            coster(g)
        check_ms = (time.process_time() - t1) / max(len(genotypes), 1) * 1e3
        per_trial = bad["duration_s"].astype(float)
        g0 = genotypes[0]
        evaluate_genotype(run, g0)  # loads the run's data and evaluator once
        t2 = time.process_time()
        evaluate_genotype(run, g0)
        eval_s = time.process_time() - t2
    import os

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{len(df)} trials on a {args.flops} FLOPs budget: {len(bad)} infeasible ({s['invalid']} of them invalid), "
          f"{len(df) - len(bad)} other; {wall:.1f} s wall, {cpu:.1f} s CPU (this process, including data loading)")
    print(f"  infeasible samples/s end to end (runner loop, journal storage): {len(df) / wall:.1f} per wall second, "
          f"{len(df) / cpu:.1f} per CPU second (median trial {statistics.median(per_trial) * 1e3:.0f} ms wall)")
    print(f"  budget check alone (analytic cost + memory): {check_ms:.2f} ms CPU per sample ({1e3 / check_ms:.0f}/s)")
    print(f"  one evaluation (adapt + build + proxy) of a sampled genotype: {eval_s:.2f} s CPU "
          f"= {eval_s * len(df) / cpu:.0f}x an infeasible trial")


if __name__ == "__main__":
    main()
