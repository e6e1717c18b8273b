"""Latency predictor accuracy on held-out genotypes, against latency measured on this machine.

    python benchmarks/latency_predictor.py                       # 40 training, 50 held-out networks (a few minutes)
    python benchmarks/latency_predictor.py --train 80 --test 100 --min-run-time 1.0

Networks come from the preset space (archspace.cost.random.preset_genotypes, 64 px): a fixed
skeleton whose stages pick a depth, a downsample layer and one (block, mixer, FFN) preset per
registered mixer kind. The table (units + fitted overhead) is built on the training networks, or
reused from the cache directory; units of held-out networks missing from it are measured (units,
never whole held-out networks). Prints Spearman rank correlation and the median / 90th-percentile
absolute % error, and the same rank correlation for analytic FLOPs as a baseline.
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

from archspace.cost.analytic import analytic_cost
from archspace.cost.cache import ResultCache
from archspace.cost.latency import LatencySettings, fingerprint_text, measure_latency
from archspace.cost.predictor import build_table, spearman
from archspace.cost.random import preset_genotypes


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=40, help="training networks for the overhead fit (default 40)")
    parser.add_argument("--test", type=int, default=50, help="held-out networks (default 50)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds of repeats per measurement (default 0.5)")
    parser.add_argument("--table", default=None, help="table file (default: the cache directory's table for this device)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    settings = LatencySettings(batch=args.batch, threads=args.threads, min_run_time=args.min_run_time)
    cache = ResultCache()
    train = preset_genotypes(args.train, seed=0)
    train_ids = {g.id for g in train}
    test = [g for g in preset_genotypes(args.test * 2, seed=1) if g.id not in train_ids][: args.test]

    start = time.perf_counter()
    table = build_table(train, settings, args.table, progress=True, cache=cache)
    print(f"table: {len(table.entries)} units, fitted on {table.fitted_on} networks ({time.perf_counter() - start:.0f} s); "
          f"intercept {table.beta:.3f} ms; scales " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(table.scales.items())))
    print(f"device: {fingerprint_text(table.fingerprint)}")

    missing = len(table.missing(test))
    predicted = [table.predict(g, measure_missing=True) for g in test]
    measured = [measure_latency(g, settings, cache).median_ms for g in test]
    flops = [analytic_cost(g).total.flops for g in test]
    errors = [abs(p - m) / m * 100 for p, m in zip(predicted, measured)]
    print(f"held-out: {len(test)} networks, {missing} of their units were not in the table and were measured")
    print(f"  measured latency: {min(measured):.2f} .. {max(measured):.2f} ms (median {statistics.median(measured):.2f})")
    print(f"  Spearman (predicted vs measured):   {spearman(predicted, measured):.3f}")
    print(f"  Spearman (analytic FLOPs vs measured, baseline): {spearman(flops, measured):.3f}")
    print(f"  absolute error: median {statistics.median(errors):.1f}%  90th percentile {percentile(errors, 0.9):.1f}%  "
          f"within 10%: {sum(e <= 10 for e in errors)}/{len(errors)}")
    unit_sum = [table.unit_sum(g) for g in test]
    raw = [abs(s - m) / m * 100 for s, m in zip(unit_sum, measured)]
    print(f"  without the fitted overhead (sum of units): median {statistics.median(raw):.1f}%")


if __name__ == "__main__":
    main()
