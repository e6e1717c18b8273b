"""What a trained-architecture table says about its task: spread, saturation, seed noise, plateau, the probe pair.

Every figure is computed from the table's rows; `archspace bench show DIR` prints them and `--json` gives them whole.
"""
from __future__ import annotations

import math
from collections import defaultdict
from statistics import fmean, stdev
from typing import Any

from scipy.stats import spearmanr


def by_arch(rows: list[dict[str, Any]], metric: str = "test_acc") -> dict[str, dict[int, float]]:
    """arch_id -> {seed: metric}."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for r in rows:
        out[r["arch_id"]][int(r["seed"])] = float(r[metric])
    return dict(out)


def seed_std(rows: list[dict[str, Any]], metric: str = "test_acc") -> float | None:
    """The pooled seed-to-seed standard deviation of one architecture (root of the mean per-architecture variance)."""
    variances = [stdev(v.values()) ** 2 for v in by_arch(rows, metric).values() if len(v) >= 2]
    return math.sqrt(fmean(variances)) if variances else None


def seed_spearman(rows: list[dict[str, Any]], metric: str = "test_acc") -> float | None:
    """The noise ceiling: mean Spearman between two seeds' accuracies over the architectures trained with both."""
    arch = by_arch(rows, metric)
    seeds = sorted({s for v in arch.values() for s in v})
    values = []
    for i, a in enumerate(seeds):
        for b in seeds[i + 1:]:
            both = [(v[a], v[b]) for v in arch.values() if a in v and b in v]
            if len(both) >= 5:
                values.append(float(spearmanr(*zip(*both)).statistic))
    return fmean(values) if values else None


def plateau_gain(row: dict[str, Any]) -> float:
    """Mean per-epoch gain of validation accuracy over the last 20% of epochs (at least one step)."""
    curve = row["val_curve"]
    k = max(1, math.ceil(0.2 * len(curve)))
    tail = curve[-(k + 1):]
    return (tail[-1] - tail[0]) / max(len(tail) - 1, 1)


def summarize(rows: list[dict[str, Any]], metric: str = "test_acc") -> dict[str, Any]:
    """The table's figures (accuracies as fractions)."""
    random_rows = [r for r in rows if r["source"] == "random"]
    arch = by_arch(random_rows, metric)
    means = {a: fmean(v.values()) for a, v in arch.items()}
    std = seed_std(rows, metric)
    out: dict[str, Any] = {
        "rows": len(rows),
        "architectures": len(by_arch(rows, metric)),
        "random_architectures": len(arch),
        "metric": metric,
    }
    if means:
        spread = max(means.values()) - min(means.values())
        out.update(best=max(means.values()), worst=min(means.values()), median=sorted(means.values())[len(means) // 2], spread=spread)
    out.update(seed_std=std, seed_archs=sum(len(v) >= 2 for v in by_arch(rows, metric).values()), noise_ceiling_spearman=seed_spearman([r for r in rows if r["source"] == "random"], metric))  # what evaluators rank
    if std is not None and means:
        out["std_over_spread"] = std / out["spread"] if out["spread"] else None
    gains = [plateau_gain(r) for r in rows if len(r.get("val_curve", [])) >= 2]
    if gains:
        out["plateau_gain"] = fmean(gains)
        out["plateau_gain_val_std"] = seed_std(rows, "val_acc")
    out["probes"] = _probes(rows, metric)
    return out


def _probes(rows: list[dict[str, Any]], metric: str) -> dict[str, Any] | None:
    groups = {side: [float(r[metric]) for r in rows if r["source"] == f"probe:{side}"] for side in ("local", "global")}
    if not all(groups.values()):
        return None
    flops = {side: next(r["flops_task"] for r in rows if r["source"] == f"probe:{side}") for side in groups}
    out: dict[str, Any] = {side: {"mean": fmean(v), "std": stdev(v) if len(v) > 1 else None, "seeds": len(v), "flops_task": flops[side]}
                           for side, v in groups.items()}
    noise = max((s["std"] or 0.0) for s in (out["local"], out["global"]))
    gap = out["global"]["mean"] - out["local"]["mean"]
    out["global_minus_local"] = gap
    out["gap_in_stds"] = gap / noise if noise else None
    return out


def render(summary: dict[str, Any]) -> list[str]:
    """The summary as lines of text."""
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    s = summary
    lines = [f"{s['rows']} rows, {s['architectures']} architectures ({s['random_architectures']} random); metric {s['metric']}"]
    if "spread" in s:
        lines.append(f"random architectures: best {pct(s['best'])}, median {pct(s['median'])}, worst {pct(s['worst'])}, "
                     f"spread {100 * s['spread']:.1f} points")
    if s["seed_std"] is not None:
        ratio = s.get("std_over_spread")
        lines.append(f"seed std {100 * s['seed_std']:.2f} points over {s['seed_archs']} architectures"
                     + (f" = 1/{1 / ratio:.1f} of the spread" if ratio else "")
                     + (f"; seed-vs-seed Spearman {s['noise_ceiling_spearman']:.3f}" if s["noise_ceiling_spearman"] is not None else ""))
    if "plateau_gain" in s:
        std = s["plateau_gain_val_std"]
        lines.append(f"plateau: mean val gain per epoch over the last 20% of epochs {100 * s['plateau_gain']:+.2f} points"
                     + (f" (seed std of val {100 * std:.2f}: {'plateaued' if s['plateau_gain'] < std else 'still rising'})" if std else ""))
    p = s["probes"]
    if p:
        def side(name: str) -> str:
            d = p[name]
            return f"{name} {pct(d['mean'])}" + (f" ± {100 * d['std']:.2f}" if d["std"] is not None else "") + f" ({d['seeds']} seeds, {d['flops_task'] / 1e6:.2f} MFLOPs)"
        gap = p["gap_in_stds"]
        lines.append(f"probe pair: {side('local')} vs {side('global')}; global - local = {100 * p['global_minus_local']:+.1f} points"
                     + (f" = {gap:+.1f} seed stds" if gap is not None else ""))
    return lines
