"""PNG figures: ERF heatmaps (models x stages), ERF@50 per stage, invariance curves, FGSM and throughput bars."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archspace.errors import ArchspaceError
from archspace.probe.fgsm import eps_name
from archspace.probe.invariance import TRANSFORMS, UNITS
from archspace.probe.runner import ModelProbe


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ArchspaceError('--out needs matplotlib for its plots: pip install -e .') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def erf_maps_png(results: Sequence[ModelProbe], path: Path) -> None:
    """Grid of gradient maps, a row per model and a column per stage, log colour scale, ERF@50 square drawn."""
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    plt = _pyplot()
    rows = [r for r in results if r.erf]
    cols = max(len(r.erf) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(2.6 * cols + 0.6, 2.6 * len(rows)), squeeze=False)
    for i, r in enumerate(rows):
        for j in range(cols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(r.erf):
                ax.axis("off")
                continue
            stage = r.erf[j]
            m = stage.map.numpy().astype(np.float64)
            m = m / m.max()
            image = ax.imshow(np.maximum(m, 1e-4), cmap="RdYlGn", norm=LogNorm(vmin=1e-4, vmax=1.0))
            h, w = m.shape
            side = stage.erf50 * h
            ax.add_patch(Rectangle((w // 2 - side / 2, h // 2 - side / 2), side, side, fill=False, edgecolor="black", linewidth=1))
            ax.set_title(f"stage {stage.stage}  ERF@50 {stage.erf50:.2f}", fontsize=9)
            if j == 0:
                ax.set_ylabel(r.model, fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.8, label="gradient map / max (log)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def erf50_png(results: Sequence[ModelProbe], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for r in results:
        if r.erf:
            ax.plot([s.stage for s in r.erf], [s.erf50 for s in r.erf], marker="o", label=r.model)
    ax.set_xlabel("stage")
    ax.set_ylabel("ERF@50 (side / input side)")
    ax.set_title("Effective receptive field per stage")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def invariance_png(results: Sequence[ModelProbe], path: Path) -> None:
    """A column per transform; rows: prediction agreement, feature cosine, and accuracy when labels fit."""
    plt = _pyplot()
    rows = [r for r in results if r.invariance]
    series = [("agreement", "prediction agreement"), ("cosine", "pooled-feature cosine")]
    if any(c.accuracy for r in rows for c in r.invariance.values()):
        series.append(("accuracy", "accuracy"))
    fig, axes = plt.subplots(len(series), len(TRANSFORMS), figsize=(4.2 * len(TRANSFORMS), 2.9 * len(series)), squeeze=False)
    for j, t in enumerate(TRANSFORMS):
        for i, (attr, label) in enumerate(series):
            ax = axes[i][j]
            for r in rows:
                curve = r.invariance.get(t)
                if curve is not None and getattr(curve, attr):
                    ax.plot(curve.values, getattr(curve, attr), marker=".", label=r.model)
            ax.set_xlabel(f"{t} ({UNITS[t]})")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Invariance to translation, rotation and scale")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _grouped_bars(path: Path, labels: list[str], series: list[tuple[str, list[float]]], size: tuple[float, float],
                  xlabel: str | None, ylabel: str, title: str) -> None:
    """One group of bars per label, one bar per model in each group."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(size[0] + size[1] * len(labels) * max(1, len(series)) / 3, 3.8))
    width = 0.8 / len(series)
    for k, (model, values) in enumerate(series):
        ax.bar([i + k * width for i in range(len(labels))], values, width, label=model)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(labels))], labels)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fgsm_png(results: Sequence[ModelProbe], path: Path) -> None:
    rows = [r for r in results if r.fgsm]
    eps = sorted({e for r in rows for e in r.fgsm.adversarial})
    series = [(r.model, [r.fgsm.clean, *(r.fgsm.adversarial.get(e, 0.0) for e in eps)]) for r in rows]
    _grouped_bars(path, ["clean", *(eps_name(e) for e in eps)], series, (1.2, 1.1), "epsilon", "accuracy", "FGSM robustness")


def throughput_png(results: Sequence[ModelProbe], path: Path) -> None:
    rows = [r for r in results if r.throughput]
    labels = [f"{p.resolution}px x{p.batch}" for p in rows[0].throughput]
    series = [(r.model, [p.images_per_s or 0.0 for p in r.throughput]) for r in rows]
    _grouped_bars(path, labels, series, (1.5, 1.4), None, "images / s", "Throughput (0 = skipped)")


def write_plots(results: Sequence[ModelProbe], out: Path) -> list[str]:
    """Every plot the results allow, written under `out`; their file names."""
    _pyplot()
    written = []
    for name, has, draw in (
        ("erf_maps.png", lambda r: r.erf, erf_maps_png),
        ("erf50.png", lambda r: r.erf, erf50_png),
        ("invariance.png", lambda r: r.invariance, invariance_png),
        ("fgsm.png", lambda r: r.fgsm, fgsm_png),
        ("throughput.png", lambda r: r.throughput, throughput_png),
    ):
        if any(has(r) for r in results):
            draw(results, out / name)
            written.append(name)
    return written
