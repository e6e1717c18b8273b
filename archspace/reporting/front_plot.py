"""The Pareto-front figure of a run (front.png / front.html): trials by state, the front, the knee, published models."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import pandas as pd

from archspace.reporting.plotting import FRONT_COLOUR, KNEE_COLOUR, PUBLISHED_COLOUR, STATE_STYLE, Axis, pyplot, save_png, write_html

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


def _error_bars(ax, pfig, points: pd.DataFrame, xn: str, yn: str, xa: Axis, ya: Axis, colour: str, label: str, cell: tuple[int, int],
                show_legend: bool) -> bool:
    """The mean score ± its seed std of each point that has one (`archspace pareto --seeds K`, K > 1), on whichever axis is
    the score; False when there is nothing to draw."""
    import plotly.graph_objects as go

    if "score" not in (xn, yn) or "score_std" not in points:
        return False
    pts = points.dropna(subset=["score_std"])
    if pts.empty:
        return False
    on_y = yn == "score"
    x = (pts[xn] if on_y else pts["score_mean"]) * xa.scale
    y = (pts["score_mean"] if on_y else pts[yn]) * ya.scale
    err = pts["score_std"] * (ya.scale if on_y else xa.scale)
    ax.errorbar(x, y, **({"yerr": err} if on_y else {"xerr": err}), fmt="_", color=colour, ecolor=colour, elinewidth=1.2, capsize=3,
                zorder=6, label=label)
    bars = dict(type="data", array=list(err), visible=True, color=colour)
    pfig.add_trace(go.Scatter(x=x, y=y, mode="markers", name=label, legendgroup=label, showlegend=show_legend,
                              marker=dict(symbol="line-ew-open", size=10, color=colour), **({"error_y": bars} if on_y else {"error_x": bars})),
                   row=cell[0], col=cell[1])
    return True


def front_plots(out_dir: Path, trials: pd.DataFrame, front: pd.DataFrame, knee: pd.Series | None, published: pd.DataFrame,
                objectives: Sequence[tuple[str, bool]], axes: dict[str, Axis], counts: dict[str, int], title: str,
                budgets: dict[str, float] | None = None) -> list[Path]:
    """front.png / front.html: every pair of objectives, trials coloured by state, the front as a staircase,
    the knee circled, published models (measured under the run's protocol) labelled by name."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    plt = pyplot()
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
        for points, colour, what in ((front, FRONT_COLOUR, "front"), (published, PUBLISHED_COLOUR, "published")):
            label = f"{what}: mean score ± seed std"
            if _error_bars(ax, pfig, points, xn, yn, xa, ya, colour, label, (r, c), label not in legend_done):
                legend_done.add(label)
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
    return [save_png(fig, out_dir / "front.png"), write_html(pfig, out_dir / "front.html")]
