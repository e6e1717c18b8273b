"""What every plot of a run shares: state colours, axes (label, unit, scale), and writing a figure as PNG
(matplotlib) and as an interactive HTML page (plotly)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def save_png(fig, path: Path) -> Path:
    """Write a matplotlib figure to `path` and close it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_html(fig, path: Path) -> Path:
    """Write a plotly figure as a full HTML page."""
    fig.write_html(path, include_plotlyjs="directory", full_html=True)  # one plotly.min.js beside the pages: works offline
    return path
