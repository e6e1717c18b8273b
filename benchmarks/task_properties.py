"""The three properties of a trained-architecture table's task (issue 18), measured on the table, and its sample grid.

    python benchmarks/task_properties.py                     # the digit_twins table; writes docs/img/<its task>.png
    python benchmarks/task_properties.py --table DIR --first 30

Properties (issue 18), over the first `--first` random architectures of the table (its plan order):
  1. accuracies span >= 20 points and the best is <= 95% (not saturated);
  2. the seed-to-seed standard deviation of one architecture is <= 1/5 of that spread;
  3. the local-only probe (3x3 depthwise mixers everywhere) scores lower than the global-attention probe of equal
     FLOPs by more than 3 seed standard deviations.
Each line says PASS or FAIL with the measured figures; nothing is assumed. Then what the task rewards: the mean
accuracy per mixer kind of each stage over all the table's random architectures.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


TITLES = {
    "digit_lookup": "digit_lookup: the label is the digit where the red pointers meet",
    "digit_twins": "digit_twins: the label is the class of the one handwriting drawn twice",
}


def sample_grid(path: Path, task: str = "digit_lookup", rows: int = 4, cols: int = 6, seed: int = 0) -> None:
    """A grid of training images with their labels, as the task generates them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from archspace.evaluate.tasks import TASKS, generate

    images, labels, _ = generate(TASKS[task], seed=seed)["train"]  # the training images as the task draws them
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.75))
    for ax, image, label in zip(axes.ravel(), images, labels):
        ax.imshow(image.transpose(1, 2, 0), interpolation="nearest")
        ax.set_title(f"label {label}", fontsize=9)
        ax.axis("off")
    fig.suptitle(TITLES[task], fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


ATTENTION = {"mhsa", "sra", "swin", "halo", "hmhsa", "cont"}  # mixer kinds that attend (the rest convolve)


def by_mixer(rows: list[dict], metric: str) -> list[str]:
    """What the task rewards: the random architectures' mean accuracy (over their seeds) per mixer kind of each
    stage, and by how many of the first two stages attend."""
    from collections import defaultdict
    from statistics import fmean, median

    accs: dict[str, list[float]] = defaultdict(list)
    trained: dict[str, dict] = {}
    for r in rows:
        if r["source"] == "random":
            accs[r["arch_id"]].append(float(r[metric]))
            trained[r["arch_id"]] = r["trained"]
    mean = {k: fmean(v) for k, v in accs.items()}
    lines = []
    for stage in range(len(next(iter(trained.values()))["stages"])):
        kinds: dict[str, list[float]] = defaultdict(list)
        for k, m in mean.items():
            kinds[trained[k]["stages"][stage]["mixer"]["kind"]].append(m)
        ranked = sorted(kinds.items(), key=lambda kv: -fmean(kv[1]))
        lines.append(f"stage {stage + 1}: " + ", ".join(f"{kind} {100 * fmean(v):.1f}% ({len(v)})" for kind, v in ranked))
    attend: dict[int, list[float]] = defaultdict(list)
    for k, m in mean.items():
        attend[sum(trained[k]["stages"][s]["mixer"]["kind"] in ATTENTION for s in range(2))].append(m)
    lines.append("attending stages among the first two: " + ", ".join(
        f"{n}: mean {100 * fmean(v):.1f}% median {100 * median(v):.1f}% ({len(v)})" for n, v in sorted(attend.items())))
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", type=Path, default=ROOT / "results" / "hybrid_digit_twins_table")
    p.add_argument("--first", type=int, default=30, help="random architectures the properties are measured over")
    p.add_argument("--metric", choices=["test_acc", "val_acc"], default="test_acc")
    p.add_argument("--grid", type=Path, default=None, help="where the sample grid goes (default docs/img/<task>.png)")
    args = p.parse_args()

    from archspace.bench.store import TableStore
    from archspace.bench.summary import render, summarize

    rows = TableStore(args.table).rows()
    task = json.loads((args.table / "protocol.json").read_text())["data"]["name"]
    grid = args.grid or ROOT / "docs" / "img" / f"{task}.png"
    sample_grid(grid, task)
    print(f"sample grid: {grid}")
    order = list(dict.fromkeys(r["arch_id"] for r in rows if r["source"] == "random"))[: args.first]
    chosen = set(order)
    subset = [r for r in rows if r["arch_id"] in chosen or r["source"].startswith("probe:")]
    s = summarize(subset, args.metric)
    print(f"table {args.table}: {len(order)} random architectures (asked for {args.first}), metric {args.metric}")
    print("\n".join("  " + line for line in render(s)))
    if "spread" not in s:
        print("no random architectures yet")
        return 1
    ok1 = s["spread"] >= 0.20 and s["best"] <= 0.95
    print(f"1. spread {100 * s['spread']:.1f} points (>= 20) and best {100 * s['best']:.1f}% (<= 95%): {'PASS' if ok1 else 'FAIL'}")
    if s["seed_std"] is not None:
        ok2 = s["seed_std"] <= s["spread"] / 5
        print(f"2. seed std {100 * s['seed_std']:.2f} points <= spread / 5 = {20 * s['spread']:.2f}: {'PASS' if ok2 else 'FAIL'}")
    else:
        print("2. no architecture with two seeds yet")
    probes = s["probes"]
    if probes and probes["gap_in_stds"] is not None:
        gap = probes["gap_in_stds"]
        print(f"3. global - local = {100 * probes['global_minus_local']:+.2f} points = {gap:+.1f} seed stds (> +3): "
              f"{'PASS' if gap > 3 else 'FAIL'}")
    else:
        print("3. the probe pair has not been trained with several seeds yet")
    print(f"what the task rewards, over all {len({r['arch_id'] for r in rows if r['source'] == 'random'})} random architectures "
          f"(mean {args.metric} per mixer kind, architectures in brackets):")
    print("\n".join("  " + line for line in by_mixer(rows, args.metric)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
