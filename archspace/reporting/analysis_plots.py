"""The design-space figures of `archspace analyze`: the objective by trial, error EDFs per gene, gene importance."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from archspace.reporting.plotting import FRONT_COLOUR, STATE_STYLE, Axis, pyplot, save_png, write_html


def history_plots(out_dir: Path, trials: pd.DataFrame, objective: str, maximise: bool, axis: Axis, title: str) -> list[Path]:
    """objective.png / objective.html: the objective of every trial by trial number, coloured by state, and the best so far."""
    import plotly.graph_objects as go

    plt = pyplot()
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
    return [save_png(fig, out_dir / "objective.png"), write_html(pfig, out_dir / "objective.html")]


def edf_plots(out_dir: Path, feasible: pd.DataFrame, errors: np.ndarray, genes: list, error_label: str, scale: float, max_genes: int = 12) -> list[Path]:
    """edf.png / edf.html: per gene, the error EDF of each value, raw (solid) and FLOPs-normalised (dashed)."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    from archspace.analysis import complexity_weights, edf, group_labels

    plt = pyplot()
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
    return [save_png(fig, out_dir / "edf.png"), write_html(pfig, out_dir / "edf.html")]


def importance_plots(out_dir: Path, importance: dict[str, dict[str, dict[str, float]]], title: str, max_genes: int = 15) -> list[Path]:
    """importance.png / importance.html: each evaluator's gene importance on all trials, with the 5-95% range over
    bootstrap resamples; the `max_genes` most important genes."""
    import plotly.graph_objects as go

    if not importance:
        return []
    plt = pyplot()
    evaluators = list(importance)
    genes = sorted({g for ev in importance.values() for g in ev}, key=lambda g: -max(ev.get(g, {}).get("value", 0) for ev in importance.values()))
    genes = genes[:max_genes][::-1]
    height = 0.8 / len(evaluators)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(genes) + 1.5))
    pfig = go.Figure()
    for i, ev in enumerate(evaluators):
        y = np.arange(len(genes)) + (i - (len(evaluators) - 1) / 2) * height
        ranked = np.array([g in importance[ev] for g in genes])
        value = np.array([importance[ev].get(g, {}).get("value", 0.0) for g in genes])
        lo = np.array([importance[ev].get(g, {}).get("p05", 0.0) for g in genes])
        hi = np.array([importance[ev].get(g, {}).get("p95", 0.0) for g in genes])
        ax.barh(y[ranked], value[ranked], height=height, label=ev)
        ax.errorbar(((lo + hi) / 2)[ranked], y[ranked], xerr=((hi - lo) / 2)[ranked], fmt="none", ecolor="black", capsize=2, lw=1)
        for yy in y[~ranked]:  # not a zero: this evaluator does not rank the gene (fANOVA: one that not every trial has)
            ax.text(0.002, yy, f"not ranked by {ev}", fontsize=6, va="center", color="grey")
        pfig.add_trace(go.Bar(y=genes, x=np.where(ranked, value, 0.0), orientation="h", name=ev,
                              text=np.where(ranked, "", f"not ranked by {ev}"), textposition="outside", customdata=np.c_[lo, hi],
                              hovertemplate="%{y}: %{x:.3f} (bootstrap 5-95%: %{customdata[0]:.3f}-%{customdata[1]:.3f})"))
    ax.set_yticks(np.arange(len(genes)))
    ax.set_yticklabels(genes, fontsize=8)
    ax.set_xlabel("importance on all trials (bars; fraction of the total) and 5-95% over bootstrap resamples (whiskers)", fontsize=8)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(title, fontsize=11)
    pfig.update_layout(title=title, barmode="group", template="plotly_white", xaxis_title="importance on all trials (hover: bootstrap 5-95%)",
                       height=max(400, 30 * len(genes) * len(evaluators) + 150))
    return [save_png(fig, out_dir / "importance.png"), write_html(pfig, out_dir / "importance.html")]
