"""The comparison tables (one per analysis, a row per model), printed with rich or written as markdown."""
from __future__ import annotations

from collections.abc import Sequence

from archspace.probe.fgsm import eps_name
from archspace.probe.invariance import TRANSFORMS
from archspace.probe.runner import ModelProbe

Table = tuple[str, list[str], list[list[str]]]


def _f(x: float | None, digits: int = 3) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def erf_table(results: Sequence[ModelProbe]) -> Table | None:
    rows = [r for r in results if r.erf is not None]
    if not rows:
        return None
    n = max(len(r.erf) for r in rows)
    return ("ERF@50 per stage (side of the centred square holding 50% of the gradient map, / input side; §6.1)",
            ["model", "input", *(f"stage {k}" for k in range(1, n + 1))],
            [[r.model, f"{r.image_size}px", *(_f(s.erf50) for s in r.erf)] for r in rows])


def invariance_table(results: Sequence[ModelProbe]) -> Table | None:
    rows = [r for r in results if r.invariance is not None]
    if not rows:
        return None
    with_acc = any(c.accuracy for r in rows for c in r.invariance.values())
    series = [("agreement", "agree"), ("cosine", "cos")] + ([("accuracy", "acc")] if with_acc else [])
    columns = ["model", "classes predicted", *(f"{t} {label}" for t in TRANSFORMS for _, label in series)]
    body = [[r.model, str(next(iter(r.invariance.values())).predicted_classes), *(_f(r.invariance[t].mean(s)) if t in r.invariance and (s != "accuracy" or r.invariance[t].accuracy) else ""
                        for t in TRANSFORMS for s, _ in series)] for r in rows]
    return ("Invariance (§6.2): mean over the sweep, identity left out: prediction agreement with the untransformed image, "
            "cosine of pooled features" + (", accuracy" if with_acc else "") + "; classes predicted on the clean images (1: agreement is trivially 1)",
            columns, body)


def fgsm_table(results: Sequence[ModelProbe]) -> Table | None:
    rows = [r for r in results if r.fgsm is not None]
    if not rows:
        return None
    eps = sorted({e for r in rows for e in r.fgsm.adversarial})
    return ("FGSM accuracy (§6.3): clean and adversarial at each eps",
            ["model", "clean", *(f"eps {eps_name(e)}" for e in eps)],
            [[r.model, _f(r.fgsm.clean), *(_f(r.fgsm.adversarial.get(e)) for e in eps)] for r in rows])


def throughput_table(results: Sequence[ModelProbe]) -> Table | None:
    rows = [r for r in results if r.throughput is not None]
    if not rows:
        return None
    pairs = [(p.resolution, p.batch) for p in rows[0].throughput]
    fp = next((p.fingerprint for r in rows for p in r.throughput if p.fingerprint), {})
    where = f"{fp.get('device', '')} {fp.get('model', '')}, {fp.get('threads', '')} thread(s), torch {fp.get('torch', '')}"
    return (f"Throughput, images/s (§5.5, Table VIII); {where}",
            ["model", *(f"{res}px x{b}" for res, b in pairs)],
            [[r.model, *(f"{p.images_per_s:.1f}" if p.images_per_s is not None else "skipped" for p in r.throughput)] for r in rows])


def tables(results: Sequence[ModelProbe]) -> list[Table]:
    """Every analysis that ran, as (title, columns, rows)."""
    return [t for t in (erf_table(results), invariance_table(results), fgsm_table(results), throughput_table(results)) if t]


def skipped_lines(results: Sequence[ModelProbe]) -> list[str]:
    lines = [f"{r.model}: {what} skipped: {why}" for r in results for what, why in r.skipped.items()]
    lines += [f"{r.model}: throughput at {p.resolution}px skipped: {p.skipped}" for r in results for p in (r.throughput or []) if p.skipped]
    return lines


def print_tables(results: Sequence[ModelProbe]) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(width=220)
    for title, columns, rows in tables(results):
        console.print(f"[bold]{title}[/bold]")
        table = RichTable()
        for i, c in enumerate(columns):
            table.add_column(c, justify="left" if i == 0 else "right", no_wrap=i == 0)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for line in skipped_lines(results):
        console.print(line)


def markdown(results: Sequence[ModelProbe], settings: dict, plots: Sequence[str]) -> str:
    """A short summary: settings, one table per analysis, skipped points, the plots."""
    data = results[0].data if results else settings.get("data")
    out = ["# archspace probe", "",
           f"Models: {', '.join(r.model for r in results)}. Data: {data}, {settings['images']} images, seed {settings['seed']}; "
           f"weights: {', '.join(sorted({r.weights or 'random (seeded)' for r in results}))}.", ""]
    for title, columns, rows in tables(results):
        out += [f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        out += ["| " + " | ".join(row) + " |" for row in rows]
        out.append("")
    skipped = skipped_lines(results)
    if skipped:
        out += ["## Skipped", "", *(f"- {line}" for line in skipped), ""]
    if plots:
        out += ["## Plots", "", *(f"![{p}]({p})" for p in plots), ""]
    return "\n".join(out)
