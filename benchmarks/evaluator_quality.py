"""Evaluator quality: every cheap evaluator against a trained-architecture table (`archspace bench build`).

    python benchmarks/evaluator_quality.py                                   # the digit_twins table, proxies + curve@1,2,4
    python benchmarks/evaluator_quality.py --train-epochs 1 2 4 --train-archs 30   # also short trainings of their own
    python benchmarks/evaluator_quality.py --table DIR --metric val_acc --json out.json

Truth: each random architecture's stand-alone accuracy in the table (mean over its seeds). Each evaluator scores the
network exactly as the table trained it (adapted and narrowed: the table row's `trained` genotype), on the table's
task, with seed 0. Evaluators:
  - every zero-cost proxy (the `proxy` evaluator), and FLOPs / params as the baselines a proxy must beat;
  - curve@k: the protocol's own validation accuracy after k of its epochs (read from the table; its CPU cost is
    k/epochs of the row's training), i.e. early stopping of the full training;
  - train@k (with --train-epochs): the `train` evaluator run for k epochs with its own schedule;
  - supernet (with --supernet DIR): inherited-weight validation accuracy after BatchNorm recalibration, one trained
    supernet per folder (its training CPU time is the checkpoint's, printed by benchmarks/supernet_quality.py).
For each: Spearman and Kendall tau with a bootstrap 95% interval, precision of the top 10% (the share of the
evaluator's top 10% that are in the table's top 10%), CPU seconds per architecture, beside the noise ceiling (the
table's seed-vs-seed Spearman over its multi-seed architectures).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from statistics import fmean
from typing import Any, Callable

import numpy as np
from scipy.stats import kendalltau, spearmanr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_TABLE = ROOT / "results" / "hybrid_digit_twins_table"


def archs(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """One record per random architecture: its trained genotype, mean metric over seeds, mean curve and CPU seconds."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["source"] == "random":
            grouped.setdefault(r["arch_id"], []).append(r)
    out = []
    for arch_id, rs in grouped.items():
        epochs = min(len(r["val_curve"]) for r in rs)
        out.append({
            "arch_id": arch_id, "genotype": rs[0]["genotype"], "trained": rs[0]["trained"], "truth": fmean(r[metric] for r in rs),
            "curve": [fmean(r["val_curve"][e] for r in rs) for e in range(epochs)],
            "cpu_s": fmean(r["cpu_s"] for r in rs), "params": rs[0]["params"], "flops": rs[0]["flops_task"],
        })
    return out


def top_precision(truth: np.ndarray, score: np.ndarray, share: float = 0.1) -> float:
    k = max(1, math.ceil(share * len(truth)))
    return len(set(np.argsort(-truth)[:k]) & set(np.argsort(-score)[:k])) / k


def rank_figures(truth: list[float], score: list[float], boot: int = 1000) -> dict[str, float]:
    t, s = np.asarray(truth, float), np.asarray(score, float)
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(boot):
        idx = rng.integers(len(t), size=len(t))
        if len(set(idx)) > 2:
            draws.append(spearmanr(t[idx], s[idx]).statistic)
    lo, hi = np.nanpercentile(draws, [2.5, 97.5]) if draws else (float("nan"), float("nan"))
    return {"spearman": float(spearmanr(t, s).statistic), "spearman_lo": float(lo), "spearman_hi": float(hi),
            "kendall": float(kendalltau(t, s).statistic), "top10": top_precision(t, s)}


def score_all(items: list[dict[str, Any]], evaluator_cfg: dict[str, Any], bundle, say: Callable[[str], None],
              field: str = "trained") -> tuple[list[float], float]:
    """The evaluator's score of every architecture and its mean CPU seconds (setup excluded). field "trained": the
    network as the table trained it; "genotype": the space genotype, adapted to the data as a search gives it (the
    supernet evaluator narrows it itself)."""
    from archspace.evaluate.registry import SetupContext, make_evaluator
    from archspace.genotype.adapt import adapt
    from archspace.genotype.io import genotype_from_dict

    evaluator = make_evaluator(evaluator_cfg)
    evaluator.setup(SetupContext(bundle=bundle))
    scores, cpu = [], []
    for k, item in enumerate(items, 1):
        genotype = genotype_from_dict(item[field])
        if field == "genotype":
            genotype = adapt(genotype, bundle.image_size, bundle.in_chans, bundle.num_classes)
        t = time.process_time()
        scores.append(float(evaluator.evaluate(genotype, bundle, seed=0)["score"]))
        cpu.append(time.process_time() - t)
        if k % 10 == 0 or k == len(items):
            say(f"  {evaluator_cfg}: {k}/{len(items)}")
    return scores, fmean(cpu)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    p.add_argument("--metric", choices=["test_acc", "val_acc"], default="test_acc")
    p.add_argument("--proxies", nargs="*", default=None, help="default: every registered proxy")
    p.add_argument("--curve-epochs", type=int, nargs="*", default=[1, 2, 4])
    p.add_argument("--train-epochs", type=int, nargs="*", default=[], help="e.g. 1 2 4: the train evaluator for that many epochs")
    p.add_argument("--train-archs", type=int, default=None, help="score train@k on only the first K architectures")
    p.add_argument("--train-steps", type=int, default=None, help="cap train@k at this many steps per epoch (a quick evaluator)")
    p.add_argument("--supernet", type=Path, nargs="*", default=[],
                   help="trained supernet folders (archspace supernet train at the table's width_divisor and data), each rated as an evaluator")
    p.add_argument("--calib-batches", type=int, default=4, help="BatchNorm recalibration batches per rated subnet (supernet)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()

    import torch

    from archspace.bench.store import TableStore
    from archspace.bench.summary import seed_spearman
    from archspace.evaluate.data import DataConfig, load_data
    from archspace.evaluate.proxies import PROXIES

    torch.set_num_threads(args.threads)
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    store = TableStore(args.table)
    rows, protocol = store.rows(), store.protocol()
    if not rows or protocol is None:
        raise SystemExit(f"{args.table}: no table there (archspace bench build)")
    items = archs(rows, args.metric)
    bundle = load_data(DataConfig(**protocol.data.model_dump()))
    truth = [i["truth"] for i in items]
    results: dict[str, dict[str, Any]] = {}

    def add(name: str, scores: list[float], cpu_s: float, subset: list[float] | None = None) -> None:
        results[name] = {**rank_figures(subset or truth, scores), "cpu_s": cpu_s, "n": len(scores)}

    add("FLOPs (baseline)", [i["flops"] for i in items], 0.0)
    add("params (baseline)", [i["params"] for i in items], 0.0)
    for name in args.proxies if args.proxies is not None else sorted(PROXIES):
        scores, cpu = score_all(items, {"kind": "proxy", "proxy": name}, bundle, say)
        add(f"proxy {name}", scores, cpu)
    epochs = protocol.train.epochs
    for k in args.curve_epochs:
        if k <= min(len(i["curve"]) for i in items):
            add(f"curve@{k} (of {epochs})", [i["curve"][k - 1] for i in items], fmean(i["cpu_s"] * k / epochs for i in items))
    subset = items[: args.train_archs] if args.train_archs else items
    for k in args.train_epochs:
        cfg = {"kind": "train", **protocol.train.model_dump(mode="json"), "epochs": k, "warmup_epochs": min(protocol.train.warmup_epochs, k - 1)}
        if args.train_steps:
            cfg["max_steps_per_epoch"] = args.train_steps
        scores, cpu = score_all(subset, cfg, bundle, say)
        add(f"train@{k}" + (f" ({args.train_steps} steps/epoch)" if args.train_steps else ""), scores, cpu, [i["truth"] for i in subset])

    for folder in args.supernet:
        cfg = {"kind": "supernet", "checkpoint": str(folder), "calib_batches": args.calib_batches, "width_divisor": protocol.width_divisor}
        scores, cpu = score_all(items, cfg, bundle, say, field="genotype")
        add(f"supernet {folder.name}", scores, cpu)

    ceiling = seed_spearman([r for r in rows if r["source"] == "random"], args.metric)  # over what is ranked: the probes' gap would inflate it
    print(f"table {args.table} ({len(items)} random architectures, truth = {args.metric} mean over seeds); "
          f"noise ceiling (seed-vs-seed Spearman): {'n/a (fewer than 5 random architectures with two seeds)' if ceiling is None else f'{ceiling:.3f}'}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'evaluator':<26} {'n':>4} {'Spearman [95% CI]':>24} {'Kendall':>8} {'top-10%':>8} {'CPU s/arch':>11}")
    for name, r in sorted(results.items(), key=lambda kv: -np.nan_to_num(kv[1]["spearman"], nan=-2)):
        ci = f"{r['spearman']:+.3f} [{r['spearman_lo']:+.2f}, {r['spearman_hi']:+.2f}]"
        print(f"{name:<26} {r['n']:>4} {ci:>24} {r['kendall']:>+8.3f} {r['top10']:>8.2f} {r['cpu_s']:>11.2f}")
    if args.json:
        args.json.write_text(json.dumps({"ceiling": ceiling, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
