"""Plots of a run, each written as a PNG (matplotlib) and an interactive HTML page (plotly)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

STATE_STYLE = {  # state -> (colour, matplotlib marker, plotly symbol)
    "COMPLETE": ("#1f77b4", "o", "circle"),
    "PRUNED": ("#ff7f0e", "x", "x"),
    "INFEASIBLE": ("#9e9e9e", "s", "square"),
    "FAIL": ("#d62728", "v", "triangle-down"),
}
FRONT_COLOUR, KNEE_COLOUR, PUBLISHED_COLOUR = "#2ca02c", "#000000", "#9467bd"


@dataclass(frozen=True)
class Axis:
    """How one objective or cost is shown: label with its unit, and the factor from stored to shown values."""

    label: str
    scale: float = 1.0


def axis_for(name: str, target_px: int | None, score_label: str) -> Axis:
    """Axis of a trials.csv column: costs at the target resolution in G / M units, the score as the evaluator says."""
    at = f" at {target_px} px" if target_px else ""
    known = {
        "flops": Axis(f"FLOPs{at} (G multiply-adds)", 1e-9),
        "params": Axis("parameters (M)", 1e-6),
        "latency_ms": Axis(f"latency{at} (ms)"),
        "memory_mb": Axis(f"memory{at} (MB)"),
        "eval_flops": Axis("FLOPs at the evaluation size (M multiply-adds)", 1e-6),
        "eval_params": Axis("parameters at the evaluation size (M)", 1e-6),
    }
    if name == "score":
        return Axis(score_label, 100.0 if "%" in score_label else 1.0)
    return known.get(name, Axis(name))


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _write_html(fig, path: Path) -> Path:
    fig.write_html(path, include_plotlyjs="directory", full_html=True)  # one plotly.min.js beside the pages: works offline
    return path


LABEL_OFFSETS = ((6, 4), (6, -11), (-6, 4), (-6, -11), (6, 14), (6, -21), (-6, 14), (-6, -21), (6, 24), (6, -31))


def _label_points(ax, points: list[tuple[str, float, float]]) -> None:
    """Name each point, trying offsets around it until the label overlaps no label placed before and stays inside the axes."""
    renderer = ax.figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    placed: list = []
    for name, x, y in points:
        for dx, dy in LABEL_OFFSETS:
            text = ax.annotate(name, (x, y), textcoords="offset points", xytext=(dx, dy), ha="left" if dx > 0 else "right",
                               fontsize=8, color=PUBLISHED_COLOUR, bbox=dict(boxstyle="round,pad=0.15", fc="white", alpha=0.75, lw=0))
            box = text.get_window_extent(renderer)
            fits = inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
            if fits and not any(box.overlaps(other) for other in placed):
                break
            if (dx, dy) != LABEL_OFFSETS[-1]:
                text.remove()
        placed.append(box)


def front_plots(out_dir: Path, trials: pd.DataFrame, front: pd.DataFrame, knee: pd.Series | None, published: pd.DataFrame,
                objectives: Sequence[tuple[str, bool]], axes: dict[str, Axis], counts: dict[str, int], title: str,
                budgets: dict[str, float] | None = None) -> list[Path]:
    """front.png / front.html: every pair of objectives, trials coloured by state, the front as a staircase,
    the knee circled, published models (measured under the run's protocol) labelled by name."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    plt = _pyplot()
    names = [n for n, _ in objectives]
    maximise = dict(objectives)
    pairs = [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))] or [(names[0], names[0])]
    # a cost on x and the score on y, as in the papers' accuracy-vs-FLOPs plots
    pairs = [(b, a) if maximise[a] and not maximise[b] else (a, b) for a, b in pairs]
    missing = trials.loc[trials[names].isna().any(axis=1), "_role"].value_counts()
    not_shown = ", ".join(f"{s.lower()} {n}" for s, n in missing.items())
    cols = min(3, len(pairs))
    rows = math.ceil(len(pairs) / cols)
    fig, axs = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.8 * rows), squeeze=False)
    pfig = make_subplots(rows=rows, cols=cols)
    legend_done: set[str] = set()
    for k, (xn, yn) in enumerate(pairs):
        ax = axs[k // cols][k % cols]
        r, c = k // cols + 1, k % cols + 1
        xa, ya = axes[xn], axes[yn]
        for state, (colour, marker, symbol) in STATE_STYLE.items():
            sub = trials[trials["_role"] == state].dropna(subset=[xn, yn])
            label = f"{state.lower()} trials ({counts.get(state, 0)})"
            if state == "COMPLETE":
                label = f"feasible trials ({counts.get(state, 0)})"
            if sub.empty:
                continue
            ax.scatter(sub[xn] * xa.scale, sub[yn] * ya.scale, c=colour, marker=marker, s=22, alpha=0.55, label=label)
            pfig.add_trace(go.Scatter(x=sub[xn] * xa.scale, y=sub[yn] * ya.scale, mode="markers", name=label, legendgroup=state,
                                      showlegend=state not in legend_done, marker=dict(color=colour, symbol=symbol, size=7, opacity=0.6),
                                      text=[f"trial {n}<br>{g}" for n, g in zip(sub["number"], sub["genotype_id"])], hoverinfo="text+x+y"),
                           row=r, col=c)
            legend_done.add(state)
        if not front.empty:
            f = front.sort_values(xn)
            ax.step(f[xn] * xa.scale, f[yn] * ya.scale, where="post", color=FRONT_COLOUR, lw=1.5)
            ax.scatter(f[xn] * xa.scale, f[yn] * ya.scale, c=FRONT_COLOUR, s=40, edgecolors="black", lw=0.6, zorder=3,
                       label=f"Pareto front ({len(front)})")
            pfig.add_trace(go.Scatter(x=f[xn] * xa.scale, y=f[yn] * ya.scale, mode="lines+markers", name=f"Pareto front ({len(front)})",
                                      legendgroup="front", showlegend="front" not in legend_done, line=dict(shape="hv", color=FRONT_COLOUR),
                                      marker=dict(size=9, color=FRONT_COLOUR, line=dict(width=1, color="black")),
                                      text=[f"trial {n}<br>{g}" for n, g in zip(f["number"], f["genotype_id"])], hoverinfo="text+x+y"),
                           row=r, col=c)
            legend_done.add("front")
        if knee is not None:
            ax.scatter([knee[xn] * xa.scale], [knee[yn] * ya.scale], s=180, facecolors="none", edgecolors=KNEE_COLOUR, lw=1.5, zorder=4,
                       label=f"knee (trial {int(knee['number'])})")
            pfig.add_trace(go.Scatter(x=[knee[xn] * xa.scale], y=[knee[yn] * ya.scale], mode="markers", name=f"knee (trial {int(knee['number'])})",
                                      legendgroup="knee", showlegend="knee" not in legend_done,
                                      marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(width=2, color=KNEE_COLOUR))), row=r, col=c)
            legend_done.add("knee")
        pub = published.dropna(subset=[xn, yn]) if not published.empty and {xn, yn} <= set(published.columns) else pd.DataFrame()
        if not pub.empty:
            ax.scatter(pub[xn] * xa.scale, pub[yn] * ya.scale, c=PUBLISHED_COLOUR, marker="*", s=150, edgecolors="black", lw=0.5, zorder=5,
                       label="published, measured here")
            pfig.add_trace(go.Scatter(x=pub[xn] * xa.scale, y=pub[yn] * ya.scale, mode="markers+text", text=pub["name"], textposition="top right",
                                      name="published, measured here", legendgroup="published", showlegend="published" not in legend_done,
                                      marker=dict(symbol="star", size=14, color=PUBLISHED_COLOUR, line=dict(width=1, color="black"))),
                           row=r, col=c)
            legend_done.add("published")
        for name, limit in (budgets or {}).items():
            if name == xn:
                ax.axvline(limit * xa.scale, color="#d62728", ls="--", lw=1, label=f"{name} budget")
                pfig.add_vline(x=limit * xa.scale, line_dash="dash", line_color="#d62728", row=r, col=c)
            elif name == yn:
                ax.axhline(limit * ya.scale, color="#d62728", ls="--", lw=1, label=f"{name} budget")
                pfig.add_hline(y=limit * ya.scale, line_dash="dash", line_color="#d62728", row=r, col=c)
        ax.set_xlabel(xa.label)
        ax.set_ylabel(ya.label)
        ax.grid(alpha=0.3)
        if not pub.empty:  # after everything that can move the axis limits
            ax.autoscale_view()
            _label_points(ax, [(p["name"], p[xn] * xa.scale, p[yn] * ya.scale) for _, p in pub.sort_values(xn).iterrows()])
        pfig.update_xaxes(title_text=xa.label, row=r, col=c)
        pfig.update_yaxes(title_text=ya.label, row=r, col=c)
    for k in range(len(pairs), rows * cols):
        axs[k // cols][k % cols].axis("off")
    handles, labels = axs[0][0].get_legend_handles_labels()
    axs[0][0].legend(handles, labels, fontsize=8, loc="upper left" if cols == 1 else "best", bbox_to_anchor=(1.02, 1.0) if cols == 1 else None, title=f"not plotted (no objective values): {not_shown}" if not_shown else None,
                     title_fontsize=7)
    fig.suptitle(title, fontsize=11)
    pfig.update_layout(title=title + (f" — not plotted (no objective values): {not_shown}" if not_shown else ""), template="plotly_white",
                       height=480 * rows, width=640 * cols)
    return [_save(fig, out_dir / "front.png"), _write_html(pfig, out_dir / "front.html")]


def history_plots(out_dir: Path, trials: pd.DataFrame, objective: str, maximise: bool, axis: Axis, title: str) -> list[Path]:
    """objective.png / objective.html: the objective of every trial by trial number, coloured by state, and the best so far."""
    import plotly.graph_objects as go

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    pfig = go.Figure()
    for state, (colour, marker, symbol) in STATE_STYLE.items():
        sub = trials[trials["_role"] == state].dropna(subset=[objective])
        if sub.empty:
            continue
        label = "feasible" if state == "COMPLETE" else state.lower()
        ax.scatter(sub["number"], sub[objective] * axis.scale, c=colour, marker=marker, s=18, alpha=0.7, label=label)
        pfig.add_trace(go.Scatter(x=sub["number"], y=sub[objective] * axis.scale, mode="markers", name=label,
                                  marker=dict(color=colour, symbol=symbol, size=7)))
    for state in ("INFEASIBLE", "FAIL"):
        colour, _, symbol = STATE_STYLE[state]
        none = trials[(trials["_role"] == state) & trials[objective].isna()]
        if not none.empty:  # no score to place: a tick on the bottom edge per trial
            ax.plot(none["number"], np.full(len(none), 0.02), "|", ms=10, color=colour, transform=ax.get_xaxis_transform(),
                    label=f"{state.lower()}, no score ({len(none)})")
            pfig.add_trace(go.Scatter(x=none["number"], y=np.zeros(len(none)), yaxis="y2", mode="markers", name=f"{state.lower()}, no score",
                                      marker=dict(color=colour, symbol="line-ns-open", size=12)))
    ok = trials[trials["_role"] == "COMPLETE"].dropna(subset=[objective]).sort_values("number")
    if not ok.empty:
        best = (ok[objective].cummax() if maximise else ok[objective].cummin()) * axis.scale
        ax.step(ok["number"], best, where="post", color=FRONT_COLOUR, lw=1.5, label="best feasible so far")
        pfig.add_trace(go.Scatter(x=ok["number"], y=best, mode="lines", line=dict(shape="hv", color=FRONT_COLOUR), name="best feasible so far"))
    ax.set_xlabel("trial number")
    ax.set_ylabel(axis.label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=11)
    pfig.update_layout(title=title, xaxis_title="trial number", yaxis_title=axis.label, template="plotly_white",
                       yaxis2=dict(overlaying="y", range=[0, 1], visible=False))
    return [_save(fig, out_dir / "objective.png"), _write_html(pfig, out_dir / "objective.html")]


def edf_plots(out_dir: Path, feasible: pd.DataFrame, errors: np.ndarray, genes: list, error_label: str, scale: float, max_genes: int = 12) -> list[Path]:
    """edf.png / edf.html: per gene, the error EDF of each value, raw (solid) and FLOPs-normalised (dashed)."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    from archspace.analysis import complexity_weights, edf, group_labels

    plt = _pyplot()
    shown = genes[:max_genes]
    if not shown:
        return []
    cols = min(3, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig, axs = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    pfig = make_subplots(rows=rows, cols=cols, subplot_titles=[g.gene for g in shown])
    flops = pd.to_numeric(feasible["flops"], errors="coerce").to_numpy(dtype=float)
    grid = np.unique(errors[np.isfinite(errors)])
    for k, ga in enumerate(shown):
        ax = axs[k // cols][k % cols]
        labels = group_labels(feasible, ga.gene).to_numpy(dtype=object)
        kept = [g.label for g in ga.groups]
        use = np.isin(labels, kept)
        w = complexity_weights(flops[use], labels[use])
        for i, group in enumerate(ga.groups):
            colour = qualitative.D3[i % len(qualitative.D3)]
            m = labels[use] == group.label
            e = errors[use][m]
            x, f_raw = edf(e, grid=grid)
            _, f_norm = edf(e, w[m], grid=grid)
            ax.step(x * scale, f_raw, where="post", color=colour, lw=1.4, label=f"{group.label} (n={group.n})")
            ax.step(x * scale, f_norm, where="post", color=colour, lw=1.2, ls="--")
            r, c = k // cols + 1, k % cols + 1
            pfig.add_trace(go.Scatter(x=x * scale, y=f_raw, mode="lines", line=dict(shape="hv", color=colour), name=f"{ga.gene}: {group.label} raw",
                                      legendgroup=f"{k}"), row=r, col=c)
            pfig.add_trace(go.Scatter(x=x * scale, y=f_norm, mode="lines", line=dict(shape="hv", color=colour, dash="dash"),
                                      name=f"{ga.gene}: {group.label} FLOPs-normalised", legendgroup=f"{k}"), row=r, col=c)
            pfig.update_xaxes(title_text=error_label, row=r, col=c)
            pfig.update_yaxes(title_text="share of models", range=[0, 1.02], row=r, col=c)
        ax.set_title(ga.gene, fontsize=9)
        ax.set_xlabel(error_label, fontsize=8)
        ax.set_ylabel("share of models with error ≤ x", fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for k in range(len(shown), rows * cols):
        axs[k // cols][k % cols].axis("off")
    more = f" (the {len(shown)} genes with the largest normalised effect of {len(genes)})" if len(genes) > len(shown) else ""
    fig.suptitle(f"Error EDFs per gene{more}: solid raw, dashed FLOPs-normalised", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    pfig.update_layout(title=f"Error EDFs per gene{more}: solid raw, dashed FLOPs-normalised", template="plotly_white",
                       height=360 * rows, width=520 * cols, showlegend=False)
    return [_save(fig, out_dir / "edf.png"), _write_html(pfig, out_dir / "edf.html")]


def importance_plots(out_dir: Path, importance: dict[str, dict[str, dict[str, float]]], title: str, max_genes: int = 15) -> list[Path]:
    """importance.png / importance.html: each evaluator's gene importance on all trials, with the 5-95% range over
    bootstrap resamples; the `max_genes` most important genes."""
    import plotly.graph_objects as go

    if not importance:
        return []
    plt = _pyplot()
    evaluators = list(importance)
    genes = sorted({g for ev in importance.values() for g in ev}, key=lambda g: -max(ev.get(g, {}).get("value", 0) for ev in importance.values()))
    genes = genes[:max_genes][::-1]
    height = 0.8 / len(evaluators)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(genes) + 1.5))
    pfig = go.Figure()
    for i, ev in enumerate(evaluators):
        y = np.arange(len(genes)) + (i - (len(evaluators) - 1) / 2) * height
        value = np.array([importance[ev].get(g, {}).get("value", 0.0) for g in genes])
        lo = np.array([importance[ev].get(g, {}).get("p05", 0.0) for g in genes])
        hi = np.array([importance[ev].get(g, {}).get("p95", 0.0) for g in genes])
        ax.barh(y, value, height=height, label=ev)
        ax.errorbar((lo + hi) / 2, y, xerr=(hi - lo) / 2, fmt="none", ecolor="black", capsize=2, lw=1)
        pfig.add_trace(go.Bar(y=genes, x=value, orientation="h", name=ev,
                              customdata=np.c_[lo, hi], hovertemplate="%{y}: %{x:.3f} (bootstrap 5-95%: %{customdata[0]:.3f}-%{customdata[1]:.3f})"))
    ax.set_yticks(np.arange(len(genes)))
    ax.set_yticklabels(genes, fontsize=8)
    ax.set_xlabel("importance on all trials (bars; fraction of the total) and 5-95% over bootstrap resamples (whiskers)", fontsize=8)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(title, fontsize=11)
    pfig.update_layout(title=title, barmode="group", template="plotly_white", xaxis_title="importance on all trials (hover: bootstrap 5-95%)",
                       height=max(400, 30 * len(genes) * len(evaluators) + 150))
    return [_save(fig, out_dir / "importance.png"), _write_html(pfig, out_dir / "importance.html")]
