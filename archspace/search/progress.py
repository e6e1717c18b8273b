"""What a search shows while it runs and when it ends: counts per state, feasible share, best score or front size."""
from __future__ import annotations

import math
from typing import Any

from archspace.search.config import SearchConfig


def front_size(values: list[list[float]], directions: list[str]) -> int:
    """Number of non-dominated points (moocore's exact test; the same ranking the Pareto fronts use)."""
    import moocore
    import numpy as np

    if not values:
        return 0
    return int(np.sum(moocore.is_nondominated(np.asarray(values, dtype=float), maximise=[d == "maximize" for d in directions])))


def summary(df, cfg: SearchConfig) -> dict[str, Any]:
    """Counts per state, feasible share, best score (single objective) or Pareto front size."""
    counts = df["state"].value_counts().to_dict() if len(df) else {}
    errors = df["error"].astype("string").fillna("") if len(df) else None
    # rows that do not count: interrupted ones, and a killed worker's trial that was run again (kill_retries)
    interrupted = int((errors.str.startswith("interrupted") | errors.str.endswith("; retried")).sum()) if len(df) else 0
    invalid = int(df["error"].astype("string").fillna("").str.startswith("invalid").sum()) if len(df) else 0
    done = sum(counts.get(s, 0) for s in ("COMPLETE", "PRUNED", "FAIL", "INFEASIBLE")) - interrupted
    sampled = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) + counts.get("INFEASIBLE", 0) + counts.get("FAIL", 0) - interrupted
    feasible = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0)
    out = {
        "done": done, "running": counts.get("RUNNING", 0), "complete": counts.get("COMPLETE", 0),
        "infeasible": counts.get("INFEASIBLE", 0) - invalid, "invalid": invalid, "pruned": counts.get("PRUNED", 0),
        "failed": counts.get("FAIL", 0) - interrupted, "interrupted": interrupted,
        "feasible_share": feasible / sampled if sampled else math.nan,
    }
    ok = df[df["state"] == "COMPLETE"]
    names = [o.name for o in cfg.objectives]
    if len(ok):
        vals = ok[names].astype(float).values.tolist()
        if cfg.multi_objective:
            out["front_size"] = front_size(vals, cfg.directions)
        else:
            col = ok[names[0]].astype(float)
            best = col.idxmax() if cfg.directions[0] == "maximize" else col.idxmin()
            out["best"] = float(col[best])
            out["best_id"] = ok.loc[best, "genotype_id"]
    return out


def describe(s: dict[str, Any], cfg: SearchConfig, asked: int) -> str:
    share = "feasible -" if math.isnan(s["feasible_share"]) else f"feasible {s['feasible_share']:.0%}"
    if cfg.multi_objective:
        best = f"front {s.get('front_size', 0)}"
    else:
        best = f"best {cfg.objectives[0].name} {s['best']:.4g}" if "best" in s else "no result yet"
    extra = f" · failed {s['failed']}" if s["failed"] else ""
    return f"asked {asked} · {share} · {best}{extra}"


def progress_bar(cfg: SearchConfig, target: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    return Progress(
        TextColumn(f"[bold]{cfg.name}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
    )
