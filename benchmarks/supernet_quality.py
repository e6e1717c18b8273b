"""Supernet figures: training CPU time and peak memory, seconds per rated subnet, and (given a trained-architecture
table) Spearman, Kendall tau and top-10% precision of the supernet's ratings against stand-alone test accuracy.

    python benchmarks/supernet_quality.py --config CONFIG --out DIR [--table TABLE_DIR] [--subnets 50] [--threads 1]

CONFIG: a search config whose `evaluator: {kind: supernet, train: {...}}` (or `supernet:` section) says how to
train; DIR is trained (or its training finished) first. Without --config, an existing DIR is measured as it is
(e.g. trained by `archspace supernet train`). The training figures are the ones the checkpoint recorded:
the sizing scan's CPU s, each epoch's CPU s and the peak RSS.
--table: a folder written by `archspace bench build` (rows.jsonl). Each random architecture of the table is
put onto the supernet (`Supernet.place`: adapted, narrowed by its width divisor), which must give the row's
`trained` network (the supernet must be trained at the table's width_divisor on the table's data); its rating
is set against the architecture's test accuracy, the mean over its seeds. Printed beside it: the table's own
seed-vs-seed Spearman (the noise ceiling) and the cost of 10 stand-alone trainings (10 x the mean cpu_s).
Without --config, a tiny space (tests/supernet_tiny.yaml) on digits at 32 px, 3 epochs.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
    """Train (or finish) the supernet; the figures are those its checkpoint recorded (sizing + every epoch)."""
    from archspace.evaluate.data import load_data
    from archspace.search.space import SearchSpace
    from archspace.supernet import checkpoint
    from archspace.supernet.config import load_train_config
    from archspace.supernet.train import train_supernet

    search, cfg = load_train_config(config)
    space = SearchSpace.from_file(search.space)
    bundle = load_data(search.data)
    meta = {"name": search.name, "space": search.space, "space_text": Path(search.space).read_text(encoding="utf-8"), "data": search.data}
    train_supernet(space, bundle, cfg, out, meta, log=lambda line: print("  " + line, flush=True))
    return recorded(out)


def recorded(out: Path) -> dict:
    """The training figures a supernet folder's checkpoint recorded (sizing, then each epoch)."""
    from archspace.search.space import SearchSpace
    from archspace.supernet import checkpoint

    meta = checkpoint.read(out)["meta"]
    history = meta["history"]
    return {"space": SearchSpace.from_file(meta["space"]), "sizing_cpu_s": meta.get("sizing_cpu_s") or 0.0, "epochs_cpu_s": sum(h.get("cpu_s", 0.0) for h in history),
            "wall_s": sum(h["seconds"] for h in history), "peak_mb": max([h.get("peak_rss_mb", 0) for h in history]),
            "epochs": len(history), "config": meta["config"]}


def rank_figures(ours: list[float], truth: list[float]) -> dict[str, float]:
    from scipy.stats import kendalltau, spearmanr

    k = max(1, round(len(truth) / 10))
    top_true = set(sorted(range(len(truth)), key=lambda i: -truth[i])[:k])
    top_ours = set(sorted(range(len(ours)), key=lambda i: -ours[i])[:k])
    return {"spearman": float(spearmanr(ours, truth)[0]), "kendall": float(kendalltau(ours, truth)[0]),
            "top10_precision": len(top_true & top_ours) / k, "top_k": k}


def table_architectures(folder: Path, sources: str) -> tuple[list[dict], list[dict]]:
    """(every row, one entry per architecture of `sources` (random, or all: random, zoo and probes): its genotype,
    trained id, test/val accuracy per seed)."""
    from archspace.bench.store import TableStore

    rows = TableStore(folder).rows()
    archs: dict[str, dict] = {}
    for r in rows:
        if sources == "random" and r["source"] != "random":
            continue
        a = archs.setdefault(r["arch_id"], {"arch_id": r["arch_id"], "source": r["source"], "genotype": r["genotype"],
                                            "trained_id": r["trained_id"], "flops": float(r["flops_target"]), "test": [], "val": []})
        a["test"].append(float(r["test_acc"]))
        a["val"].append(float(r["val_acc"]))
    return rows, list(archs.values())


def front_comparison(ours: list[float], test: list[float], flops: list[float]) -> dict[str, Any]:
    """The supernet search's front over the table's architectures (rating up, FLOPs at the target size down), read at the
    architectures' stand-alone test accuracy, against the front of searching the table directly (test accuracy up, FLOPs
    down): hypervolume on true accuracy (reference: accuracy 0, 1.05 x the largest FLOPs) and shared members."""
    from archspace.pareto import MAXIMIZE, MINIMIZE, Objective, hypervolume, pareto_ranks

    objectives = [Objective("acc", MAXIMIZE), Objective("flops", MINIMIZE)]
    ref = (0.0, 1.05 * max(flops))
    picked = [i for i, rank in enumerate(pareto_ranks(list(zip(ours, flops)), objectives)) if rank == 0]
    best = [i for i, rank in enumerate(pareto_ranks(list(zip(test, flops)), objectives)) if rank == 0]
    hv = lambda idx: hypervolume([(test[i], flops[i]) for i in idx], objectives, ref)  # noqa: E731
    return {"supernet_front": picked, "table_front": best, "shared": sorted(set(picked) & set(best)),
            "hv_supernet": hv(picked), "hv_table": hv(best)}


def rate_table(supernet, bundle, folder: Path, calib_batches: int, val: list, sources: str = "random") -> None:
    from archspace.bench.summary import seed_spearman
    from archspace.errors import ArchspaceError
    from archspace.genotype.io import genotype_from_dict
    from archspace.supernet.rate import rate

    rows, archs = table_architectures(folder, sources)
    if len(archs) < 3:
        print(f"{folder}: {len(archs)} {sources} architectures so far; too few to rank")
        return
    ours, seconds, refused = [], [], []
    for a in list(archs):
        placed = supernet.place(genotype_from_dict(a["genotype"]))
        if placed.id != a["trained_id"]:
            raise SystemExit(f"{a['arch_id']}: the supernet's subnet {placed.id} is not the table's trained network {a['trained_id']} "
                             "(train the supernet at the table's width_divisor and data)")
        start = time.perf_counter()
        try:
            ours.append(rate(supernet, placed, bundle, calib_batches=calib_batches, val=val))
        except ArchspaceError as err:  # outside the space the supernet was sized for (a zoo model or probe may be)
            refused.append(f"{a['arch_id']} ({a['source']}): {err}")
            archs.remove(a)
            continue
        seconds.append(time.perf_counter() - start)
    for line in refused:
        print(f"  not rated: {line}")
    test = [statistics.fmean(a["test"]) for a in archs]
    figures = rank_figures(ours, test)
    val_figures = rank_figures(ours, [statistics.fmean(a["val"]) for a in archs])
    noise = seed_spearman([r for r in rows if sources == "all" or r["source"] == "random"])
    seeds = [len(a["test"]) for a in archs]
    print(f"against {folder}: {len(archs)} {'' if sources == 'random' else 'random, zoo and probe '}architectures ({min(seeds)}-{max(seeds)} seeds each, {len(rows)} rows in all)")
    print(f"  supernet rating vs stand-alone test accuracy (mean over seeds): Spearman {figures['spearman']:.3f}, "
          f"Kendall tau {figures['kendall']:.3f}, top-10% precision {figures['top10_precision']:.2f} (top {figures['top_k']})")
    print(f"  vs stand-alone val accuracy: Spearman {val_figures['spearman']:.3f}, Kendall tau {val_figures['kendall']:.3f}")
    print(f"  the table's seed-vs-seed Spearman (noise ceiling): {'n/a (fewer than 5 architectures with two seeds)' if noise is None else f'{noise:.3f}'}")
    print(f"  supernet ratings {min(ours):.3f}-{max(ours):.3f}; stand-alone test accuracy {min(test):.3f}-{max(test):.3f}")
    print(f"  rating the table's subnets: median {statistics.median(seconds):.3f} s, mean {statistics.fmean(seconds):.3f} s, "
          f"max {max(seconds):.3f} s per subnet")
    fronts = front_comparison(ours, test, [a["flops"] for a in archs])
    print(f"  front of a supernet search over these architectures (rating up, FLOPs down), read at stand-alone test accuracy: "
          f"{len(fronts['supernet_front'])} architectures, hypervolume {fronts['hv_supernet'] / 1e9:.4f} (acc x GFLOPs) = "
          f"{fronts['hv_supernet'] / fronts['hv_table']:.1%} of the table's own front ({len(fronts['table_front'])} architectures, "
          f"{fronts['hv_table'] / 1e9:.4f}); {len(fronts['shared'])} in both")
    for name, idx in (("supernet front", fronts["supernet_front"]), ("table front", fronts["table_front"])):
        print(f"    {name}: " + ", ".join(f"{archs[i]['arch_id'][:8]} {archs[i]['flops'] / 1e9:.2f}G {test[i]:.3f}"
                                         for i in sorted(idx, key=lambda i: archs[i]["flops"])))
    cpu = [float(r["cpu_s"]) for r in rows]
    print(f"  stand-alone training: mean {statistics.fmean(cpu):.1f} CPU s per (architecture, seed) over {len(cpu)} rows "
          f"({min(cpu):.0f}-{max(cpu):.0f}); 10 trainings = {10 * statistics.fmean(cpu):.0f} CPU s")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None, help="supernet folder (default: a temporary one)")
    p.add_argument("--subnets", type=int, default=50, help="random subnets rated for the seconds-per-subnet figure")
    p.add_argument("--calib-batches", type=int, default=4)
    p.add_argument("--table", type=Path, default=None, help="a trained-architecture table folder (rows.jsonl)")
    p.add_argument("--sources", choices=["random", "all"], default="random",
                   help="the table's architectures rated: its uniform sample (default) or every row (zoo models and probes too)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="supernet_quality_"))
    out = args.out or tmp / "supernet"
    if args.config is None and args.out is not None and (args.out / "checkpoint.pt").is_file():
        print(f"supernet {out} as it is ({torch.get_num_threads()} threads)")
        trained = recorded(out)
    else:
        config = args.config or default_config(tmp)
        print(f"supernet {config} -> {out} ({torch.get_num_threads()} threads)")
        trained = train(config, out)
    total = trained["sizing_cpu_s"] + trained["epochs_cpu_s"]
    print(f"training ({trained['epochs']} epochs, {trained['config']}): {total:.0f} CPU s "
          f"(sizing {trained['sizing_cpu_s']:.0f} s + epochs {trained['epochs_cpu_s']:.0f} s), {trained['wall_s']:.0f} s wall in epochs, "
          f"peak RSS {trained['peak_mb']:.0f} MB")

    from archspace.evaluate.data import load_data
    from archspace.supernet import checkpoint
    from archspace.supernet.rate import rate
    from archspace.supernet.sampler import PathSampler

    supernet, meta = checkpoint.load(out)
    print(f"supernet: {sum(p.numel() for p in supernet.weights.values()) / 1e6:.2f}M shared parameters, width divisor {supernet.width_divisor}")
    bundle = load_data(meta["data"])
    val = list(DataLoader(bundle.val, batch_size=128))
    sampler = PathSampler(trained["space"], supernet.image_size, supernet.in_chans, supernet.num_classes, seed=12345,
                          width_divisor=supernet.width_divisor)
    rate(supernet, sampler.draw(), bundle, calib_batches=args.calib_batches, val=val)  # warm-up
    seconds, scores = [], []
    for _ in range(args.subnets):
        genotype = sampler.draw()
        start = time.perf_counter()
        scores.append(rate(supernet, genotype, bundle, calib_batches=args.calib_batches, val=val))
        seconds.append(time.perf_counter() - start)
    if seconds:
        print(f"rating {args.subnets} random subnets ({len(bundle.val)} val images, {args.calib_batches} BN batches of 64): "
              f"median {statistics.median(seconds):.3f} s, mean {statistics.mean(seconds):.3f} s, max {max(seconds):.3f} s per subnet; "
              f"accuracy {min(scores):.3f}-{max(scores):.3f}")
    if args.table:
        rate_table(supernet, bundle, args.table, args.calib_batches, val, args.sources)
        print(f"supernet training {total:.0f} CPU s (this process's peak RSS after rating "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
