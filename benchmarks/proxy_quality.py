"""Proxy quality: Spearman between each zero-cost proxy (and FLOPs / params alone, the baselines a proxy
must beat) and short-training accuracy, over genotypes sampled at random from a search space.

    python benchmarks/proxy_quality.py                       # 30 genotypes of hybrid.yaml on digits at 32 px
    python benchmarks/proxy_quality.py --n 60 --epochs 4     # more genotypes, longer training
    python benchmarks/proxy_quality.py --max-gflops 2.0      # only genotypes under a FLOPs budget (224 px)
    python benchmarks/proxy_quality.py --seeds 2             # train twice: the seed-to-seed Spearman is the ceiling

Each genotype is sampled at the space's target resolution, put on the data with
`archspace.genotype.adapt.adapt` (as a search does), scored by every proxy (one seeded batch set per
proxy) and trained with the training evaluator; genotypes run in parallel worker processes with one
torch thread each. Prints the run parameters, the correlation table with a bootstrap 95% interval,
and the CPU load average (the figures are noisier on a shared machine).
"""
from __future__ import annotations

import argparse
from collections import Counter
import json
import math
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
_BUNDLE = None  # the data, loaded once per worker process


def sample_genotypes(space_path: Path, n: int, seed: int, image_size: int, in_chans: int, num_classes: int, max_gflops: float | None):
    """`n` valid genotypes from a random sampler, each with its adapted copy; counts what was skipped."""
    from archspace.cost.analytic import analytic_cost
    from archspace.errors import GenotypeError
    from archspace.genotype.adapt import adapt
    from archspace.search.sampling import optuna_random_genotypes
    from archspace.search.space import SearchSpace

    space = SearchSpace.from_file(space_path)
    chosen = []
    skipped: Counter = Counter({"invalid": 0, "over budget": 0, "not adaptable": 0, "duplicate": 0})
    for genotype in optuna_random_genotypes(space, seed, skipped):
        if len(chosen) == n:
            break
        if max_gflops is not None and analytic_cost(genotype).total.flops > max_gflops * 1e9:
            skipped["over budget"] += 1
            continue
        try:
            chosen.append((genotype, adapt(genotype, image_size, in_chans, num_classes)))
        except GenotypeError:
            skipped["not adaptable"] += 1
    return space.name, chosen, dict(skipped)


def _init_worker(data_cfg: dict[str, Any]) -> None:
    import torch

    from archspace.evaluate.data import load_data

    torch.set_num_threads(1)
    global _BUNDLE
    _BUNDLE = load_data(data_cfg)


def evaluate_one(adapted_json: str, proxies: list[str], proxy_cfg: dict[str, Any], train_cfg: dict[str, Any], seeds: int) -> dict[str, Any]:
    """Every proxy and the short-training accuracy (per seed) of one adapted genotype; failures become NaN."""
    from archspace.errors import ArchspaceError
    from archspace.evaluate.evaluator import make_evaluator
    from archspace.genotype import genotype_from_dict

    genotype = genotype_from_dict(json.loads(adapted_json))
    row: dict[str, Any] = {"errors": []}
    start = time.perf_counter()
    try:  # one build: the first proxy is the score, the others are metrics on copies of the same network
        result = make_evaluator({**proxy_cfg, "proxy": proxies[0], "metrics": proxies[1:]}).evaluate(genotype, _BUNDLE, seed=0)
        row.update({name: result[name] for name in proxies})
    except ArchspaceError:  # a non-finite proxy: score them one by one so the others still count
        for name in proxies:
            try:
                row[name] = make_evaluator({**proxy_cfg, "proxy": name}).evaluate(genotype, _BUNDLE, seed=0)["score"]
            except ArchspaceError as err:
                row[name] = math.nan
                row["errors"].append(str(err))
    row["proxy_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    for seed in range(seeds):
        try:
            row[f"acc_seed{seed}"] = make_evaluator(train_cfg).evaluate(genotype, _BUNDLE, seed=seed)["score"]
        except ArchspaceError as err:
            row[f"acc_seed{seed}"] = math.nan
            row["errors"].append(str(err))
    row["train_seconds"] = time.perf_counter() - start
    return row


def _ranks(a: np.ndarray) -> np.ndarray:
    return pd.Series(a).rank().to_numpy()


def spearman_with_ci(x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float, int]:
    """Spearman rho of the pairs where both are finite, with a percentile bootstrap 95% interval."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 3:
        return math.nan, math.nan, math.nan, n
    rho = float(np.corrcoef(_ranks(x), _ranks(y))[0, 1])
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(reps):
        idx = rng.integers(0, n, n)
        rx, ry = _ranks(x[idx]), _ranks(y[idx])
        if rx.std() > 0 and ry.std() > 0:
            boots.append(np.corrcoef(rx, ry)[0, 1])
    low, high = np.percentile(boots, [2.5, 97.5])
    return rho, float(low), float(high), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default=str(ROOT / "search_spaces" / "hybrid.yaml"))
    parser.add_argument("--n", type=int, default=30, help="genotypes (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="sampler seed")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--max-train", type=int, default=256, help="training images (seeded subset of digits' 1,437)")
    parser.add_argument("--max-val", type=int, default=200, help="validation images (seeded subset of digits' 360)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--proxy-batch", type=int, default=32, help="images per proxy batch")
    parser.add_argument("--seeds", type=int, default=1, help="training seeds per genotype (2+: also the seed-to-seed Spearman)")
    parser.add_argument("--max-gflops", type=float, default=None, help="keep only genotypes under this many GFLOPs at 224 px")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--csv", default=None, help="write the per-genotype table here")
    args = parser.parse_args()

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.table import Table

    from archspace.cost.analytic import analytic_cost
    from archspace.evaluate.proxies import PROXIES
    from archspace.genotype.io import canonical_json

    console = Console()
    load_start = os.getloadavg()[0]
    data_cfg = {"name": "digits", "image_size": args.image_size, "max_train": args.max_train, "max_val": args.max_val}
    proxies = sorted(PROXIES)
    proxy_cfg = {"kind": "proxy", "batch_size": args.proxy_batch, "batches": 1}
    train_cfg = {"kind": "train", "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr}
    started = time.perf_counter()
    space_name, chosen, skipped = sample_genotypes(Path(args.space), args.n, args.seed, args.image_size, 1, 10, args.max_gflops)

    console.print(
        f"[bold]proxy quality[/bold]: space {space_name}, {len(chosen)} genotypes (random sampler, seed {args.seed}; "
        f"skipped {', '.join(f'{v} {k}' for k, v in skipped.items())})\n"
        f"  data: digits at {args.image_size} px, {args.max_train} train / {args.max_val} val images\n"
        f"  proxies: {', '.join(proxies)} on one seeded batch of {args.proxy_batch} training images (zico: two halves)\n"
        f"  training: {args.epochs} epochs, batch {args.batch_size}, AdamW lr {args.lr:g} wd 0.05, cosine, label smoothing 0.1, "
        f"{args.seeds} seed(s); score = val accuracy after the last epoch\n"
        f"  {args.workers} worker process(es), 1 torch thread each; load average at start {load_start:.1f} on {os.cpu_count()} CPUs"
    )
    rows: list[dict[str, Any]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(data_cfg,)) as pool, Progress(
        *columns, console=console
    ) as progress:
        task = progress.add_task("genotypes", total=len(chosen))
        futures = {
            pool.submit(evaluate_one, canonical_json(adapted), proxies, proxy_cfg, train_cfg, args.seeds): (g, adapted)
            for g, adapted in chosen
        }
        for future in as_completed(futures):
            genotype, adapted = futures[future]
            row = future.result()
            target, small = analytic_cost(genotype).total, analytic_cost(adapted).total
            row.update(
                id=genotype.id,
                mixers="/".join(s.mixer.kind for s in genotype.stages),
                flops=target.flops,
                params=target.params,
                eval_flops=small.flops,
            )
            rows.append(row)
            accs = ", ".join(f"{row[f'acc_seed{s}']:.3f}" for s in range(args.seeds))
            progress.console.print(
                f"  {len(rows):3d}/{len(chosen)} {genotype.id} {row['mixers']:<28} {target.flops / 1e9:5.2f} GFLOPs  acc {accs}  "
                f"({row['proxy_seconds']:.0f} s proxies, {row['train_seconds']:.0f} s training)"
            )
            progress.advance(task)
    wall = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = children.ru_utime + children.ru_stime  # the workers' CPU time: what the run costs on a free machine

    table = pd.DataFrame(rows)
    acc_cols = [f"acc_seed{s}" for s in range(args.seeds)]
    table["accuracy"] = table[acc_cols].mean(axis=1)
    if args.csv:
        table.drop(columns=["errors"]).to_csv(args.csv, index=False)
    accuracy = table["accuracy"].to_numpy(float)

    out = Table(title=f"Spearman with short-training accuracy ({len(table)} genotypes of {space_name})")
    for col in ("predictor", "rho", "95% CI (bootstrap)", "n"):
        out.add_column(col, justify="left" if col == "predictor" else "right")
    baselines = {"FLOPs (224 px, baseline)": "flops", "FLOPs (eval size)": "eval_flops", "params": "params"}
    for label, col in [*[(p, p) for p in proxies], *baselines.items()]:
        rho, low, high, n = spearman_with_ci(table[col].to_numpy(float), accuracy)
        out.add_row(label, f"{rho:+.3f}", f"[{low:+.2f}, {high:+.2f}]", str(n))
    if args.seeds > 1:
        rho, low, high, n = spearman_with_ci(table["acc_seed0"].to_numpy(float), table["acc_seed1"].to_numpy(float))
        out.add_row("accuracy seed 0 vs seed 1 (ceiling)", f"{rho:+.3f}", f"[{low:+.2f}, {high:+.2f}]", str(n))
    console.print(out)
    failures = [e for errs in table["errors"] for e in errs]
    console.print(
        f"accuracy: mean {np.nanmean(accuracy):.3f}, min {np.nanmin(accuracy):.3f}, max {np.nanmax(accuracy):.3f} (chance 0.100); "
        f"failures: {len(failures)}{' (' + failures[0] + ')' if failures else ''}\n"
        f"time: {wall:.0f} s wall, {worker_cpu:.0f} s CPU in the workers (about {worker_cpu / args.workers:.0f} s wall on "
        f"{args.workers} free cores); per genotype median {table['proxy_seconds'].median():.1f} s proxies, "
        f"{table['train_seconds'].median():.1f} s training (wall); load average at end {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
