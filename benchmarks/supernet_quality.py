"""Supernet figures: training CPU time and peak memory, seconds per rated subnet, and (given a table of
stand-alone accuracies) Spearman, Kendall tau and top-10% precision of the supernet's ratings.

    python benchmarks/supernet_quality.py --config CONFIG --out DIR [--subnets 50] [--table RUN_DIR]

CONFIG: a search config whose `evaluator: {kind: supernet, train: {...}}` (or `supernet:` section) says how to
train; DIR is trained first unless it holds a finished checkpoint. --table: a folder with trials.csv
(genotype_id, score = stand-alone accuracy) and genotypes/<id>.json, e.g. a search run with the train
evaluator on the same data; each of its genotypes is rated by the supernet (they must lie in its space).
Without --config, a tiny space (tests/supernet_tiny.yaml) on digits at 32 px, 3 epochs.
"""
from __future__ import annotations

import argparse
import csv
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parent.parent


def default_config(folder: Path) -> Path:
    data = {"name": "supernet_tiny", "space": str(ROOT / "tests" / "supernet_tiny.yaml"), "objectives": ["score"],
            "data": {"name": "digits", "image_size": 32}, "seed": 0, "supernet": {"epochs": 3, "batch_size": 64, "log_every": 11}}
    path = folder / "supernet_tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def train(config: Path, out: Path) -> dict:
    from archspace.evaluate.data import load_data
    from archspace.search.space import SearchSpace
    from archspace.supernet.config import load_train_config
    from archspace.supernet.train import train_supernet

    search, cfg = load_train_config(config)
    space = SearchSpace.from_file(search.space)
    bundle = load_data(search.data)
    meta = {"name": search.name, "space": search.space, "space_text": Path(search.space).read_text(encoding="utf-8"), "data": search.data}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    train_supernet(space, bundle, cfg, out, meta, log=lambda line: print("  " + line, flush=True))
    return {"cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "space": space}


def rank_figures(ours: list[float], truth: list[float]) -> dict[str, float]:
    from scipy.stats import kendalltau, spearmanr

    k = max(1, round(len(truth) / 10))
    top_true = set(sorted(range(len(truth)), key=lambda i: -truth[i])[:k])
    top_ours = set(sorted(range(len(ours)), key=lambda i: -ours[i])[:k])
    return {"spearman": float(spearmanr(ours, truth)[0]), "kendall": float(kendalltau(ours, truth)[0]), "top10_precision": len(top_true & top_ours) / k}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None, help="supernet folder (default: a temporary one)")
    p.add_argument("--subnets", type=int, default=50, help="random subnets rated for the seconds-per-subnet figure")
    p.add_argument("--calib-batches", type=int, default=4)
    p.add_argument("--table", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="supernet_quality_"))
    config = args.config or default_config(tmp)
    out = args.out or tmp / "supernet"
    print(f"training {config} -> {out} ({torch.get_num_threads()} threads)")
    trained = train(config, out)
    print(f"training: {trained['cpu_s']:.0f} s CPU, {trained['wall_s']:.0f} s wall, peak RSS {trained['peak_mb']:.0f} MB")

    from archspace.evaluate.data import load_data
    from archspace.supernet import checkpoint
    from archspace.supernet.rate import rate
    from archspace.supernet.sampler import PathSampler

    supernet, meta = checkpoint.load(out)
    bundle = load_data(meta["data"])
    val = list(DataLoader(bundle.val, batch_size=128))
    sampler = PathSampler(trained["space"], supernet.image_size, supernet.in_chans, supernet.num_classes, seed=12345)
    rate(supernet, sampler.draw(), bundle, calib_batches=args.calib_batches, val=val)  # warm-up
    seconds, scores = [], []
    for _ in range(args.subnets):
        genotype = sampler.draw()
        start = time.perf_counter()
        scores.append(rate(supernet, genotype, bundle, calib_batches=args.calib_batches, val=val))
        seconds.append(time.perf_counter() - start)
    print(f"rating {args.subnets} random subnets ({len(bundle.val)} val images, {args.calib_batches} BN batches of 64): "
          f"median {statistics.median(seconds):.3f} s, mean {statistics.mean(seconds):.3f} s, max {max(seconds):.3f} s per subnet; "
          f"accuracy {min(scores):.3f}-{max(scores):.3f}")
    if args.table:
        from archspace.genotype import load_genotype
        from archspace.genotype.adapt import adapt

        with open(args.table / "trials.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("state") == "COMPLETE" and r.get("score")]
        ours, truth = [], []
        for row in rows:
            g = adapt(load_genotype(args.table / "genotypes" / f"{row['genotype_id']}.json"), supernet.image_size, supernet.in_chans, supernet.num_classes)
            ours.append(rate(supernet, g, bundle, calib_batches=args.calib_batches, val=val))
            truth.append(float(row["score"]))
        figures = rank_figures(ours, truth)
        print(f"against {args.table} ({len(rows)} architectures): Spearman {figures['spearman']:.3f}, Kendall tau {figures['kendall']:.3f}, "
              f"top-10% precision {figures['top10_precision']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
