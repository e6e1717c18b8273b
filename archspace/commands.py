"""Command-line adapters of the genotype and zoo commands: `build`, `validate`, `schema`, `zoo` (registered by archspace.cli)."""
from __future__ import annotations

import argparse
import json
import sys

from archspace.errors import ArchspaceError


def _fmt_params(n: int) -> str:
    """Millions of parameters, three decimals below 1M (MobileFaceNet-SCSC's 0.848M)."""
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e6:.3f}M"


def _fmt_flops(n: int) -> str:
    """Giga multiply-adds, three decimals below 1G (the face models' 0.146G-0.33G)."""
    return f"{n / 1e9:.2f}G" if n >= 1e9 else f"{n / 1e9:.3f}G"


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, c in enumerate(columns):
        table.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*r)
    Console(width=max(120, len(columns) * 17)).print(table)


def cmd_build(args: argparse.Namespace) -> int:
    """Build a genotype, count it with fvcore, print totals and a per-stage table."""
    from archspace import build, load_genotype
    from archspace.cost.memory import check_fits
    from archspace.report import build_report

    genotype = load_genotype(args.file)
    if not args.force:
        check_fits(genotype)
    report = build_report(genotype, build(genotype))
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0
    print(f"name          {report.name}")
    print(f"id            {report.id}")
    print(f"params        {_fmt_params(report.params)} ({report.params:,})")
    print(f"FLOPs         {_fmt_flops(report.flops)} ({report.flops:,} multiply-adds at {genotype.image_size}x{genotype.image_size}, fvcore)")
    print(f"output shape  {tuple(report.output_shape)}")
    _table(
        "",
        ["stage", "resolution", "channels", "depth", "mixer", "params", "FLOPs"],
        [[r.name, r.resolution, str(r.channels), str(r.depth), r.mixer, _fmt_params(r.params), _fmt_flops(r.flops)] for r in report.stages],
    )
    return 0


def report_error(err: Exception) -> None:
    """Print one error line (what a batch command does for each bad file before going on)."""
    print(f"archspace: error: {err}", file=sys.stderr, flush=True)


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate genotype files; report every bad one, exit 2 if any."""
    from archspace import load_genotype

    bad = 0
    for path in args.files:
        try:
            g = load_genotype(path)
            print(f"ok  {path}  {g.name}  {g.id}")
        except ArchspaceError as err:
            report_error(err)
            bad += 1
    return 2 if bad else 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the genotype JSON Schema."""
    from archspace.genotype import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _pct(delta: float | None) -> str:
    return "" if delta is None else f"{delta * 100:+.1f}%"


def cmd_zoo(args: argparse.Namespace) -> int:
    """Count every shipped genotype (closed forms; --fvcore also traces each built network); ours vs the paper's."""
    from archspace.fidelity import fidelity
    from archspace.zoo import zoo_genotype, zoo_names

    names = zoo_names()
    rows, traced, bad = [], [], 0
    for i, name in enumerate(names, 1):
        try:
            genotype = zoo_genotype(name)
            rows.append(fidelity(genotype))
            if args.fvcore:
                print(f"[{i}/{len(names)}] fvcore {name}", file=sys.stderr, flush=True)
                traced.append(fidelity(genotype, "fvcore"))
        except ArchspaceError as err:
            report_error(err)
            bad += 1
    status = 2 if bad else 0
    if args.json:
        print(json.dumps([{**r.to_dict(), **({"fvcore": t.to_dict()} if traced else {})} for r, t in zip(rows, traced or rows)]))
        return status
    columns = ["name", "family", "params", "FLOPs", "FLOPs (paper conv.)", "paper params", "paper FLOPs", "Δ params", "Δ FLOPs", "paper accuracy"]
    table = [
        [r.name, r.family, _fmt_params(r.params), _fmt_flops(r.flops), _fmt_flops(r.flops_paper_convention),
         f"{r.paper_params_m}M" if r.paper_params_m else "", f"{r.paper_flops_g}G" if r.paper_flops_g else "",
         _pct(r.params_delta), _pct(r.flops_delta), r.paper_accuracy]
        for r in rows
    ]
    if traced:
        columns.append("fvcore agrees")
        for row, r, t in zip(table, rows, traced):
            same = (r.params, r.flops, r.flops_paper_convention) == (t.params, t.flops, t.flops_paper_convention)
            row.append("yes" if same else f"no: {t.params:,} params, {t.flops:,} FLOPs")
    counted = "closed forms and fvcore" if traced else "closed forms; --fvcore cross-checks on the built networks"
    _table(f"archspace zoo: ours vs paper (deltas under the paper's counting convention; counted by {counted})", columns, table)
    return status
