"""The `archspace` command line. Bad input exits 2 with one line on stderr."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

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


def cmd_plan(args: argparse.Namespace) -> int:
    """Resolved genotype and per-block map sizes, channels, ops, params/FLOPs; marks the failing field."""
    from archspace.explain import run_plan

    return run_plan(args)


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="genotype file (.json, .yaml)")
    p.add_argument("--img-size", default=None, help="plan at another input size: S or HxW (default: the genotype's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_export(args: argparse.Namespace) -> int:
    """Export a genotype's network to ONNX and/or a torch.export program, checked against PyTorch."""
    from archspace.export import run_export

    return run_export(args)


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="genotype file (.json, .yaml)")
    p.add_argument("--onnx", default=None, metavar="OUT.onnx", help="write ONNX (dynamic batch), checked in onnxruntime")
    p.add_argument("--exported-program", default=None, metavar="OUT.pt2", help="write a torch.export program (dynamic batch)")
    p.add_argument("--img-size", default=None, help="export for another input size: S or HxW (default: the genotype's)")
    p.add_argument("--atol", type=float, default=1e-4, help="largest accepted |difference| from PyTorch (default 1e-4)")


def cmd_cost(args: argparse.Namespace) -> int:
    """Params, FLOPs (analytic and fvcore), latency and memory of genotype files, one table row each."""
    from archspace.cost.commands import run_cost

    return run_cost(args)


def cmd_latency_table(args: argparse.Namespace) -> int:
    """Build or resume a device's latency lookup table."""
    from archspace.cost.commands import run_latency_table

    return run_latency_table(args)


def cmd_probe(args: argparse.Namespace) -> int:
    """ERF, invariance, FGSM robustness and throughput of models (STM-evaluation §5.5-6)."""
    from archspace.probe.command import run

    return run(args)


def _probe_args(p: argparse.ArgumentParser) -> None:
    from archspace.probe.command import add_args

    add_args(p)


def _device_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to measure latency (default cpu)")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads while measuring (default 1)")


def _cost_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", help="genotype files")
    _device_args(p)
    p.add_argument("--latency", default="none", choices=["measure", "predict", "none"], help="latency column (default none)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print a JSON list")
    fmt.add_argument("--csv", action="store_true", help="print CSV")
    _force_flag(p)


def _latency_table_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["build"], help="build (or resume) the table")
    p.add_argument("files", nargs="*", help="genotype files whose units to add (besides the preset networks)")
    _device_args(p)
    p.add_argument("--networks", type=int, default=40, help="preset-space networks to measure and fit on (default 40)")
    p.add_argument("--seed", type=int, default=0, help="seed of the preset networks (default 0)")
    p.add_argument("--min-run-time", type=float, default=0.5, help="seconds of repeats per measurement (default 0.5)")
    p.add_argument("--table", default=None, help="table file (default: under $ARCHSPACE_CACHE or ~/.cache/archspace)")


def cmd_pareto(args: argparse.Namespace) -> int:
    """Pareto front of a run against the published models; front.png / front.html in the run."""
    from archspace.reporting.commands import run_pareto

    return run_pareto(args)


def cmd_analyze(args: argparse.Namespace) -> int:
    """EDFs per gene, gene importance and findings of a run."""
    from archspace.reporting.commands import run_analyze

    return run_analyze(args)


def cmd_report(args: argparse.Namespace) -> int:
    """RUN/report.md and RUN/report.html."""
    from archspace.reporting.commands import run_report

    return run_report(args)


def _run_args(p: argparse.ArgumentParser, command: str) -> None:
    from archspace.reporting.commands import ARGS

    ARGS[command](p)


def cmd_search(args: argparse.Namespace) -> int:
    """Run or resume a constrained architecture search."""
    from archspace.search.commands import run_search

    return run_search(args)


def _search_args(p: argparse.ArgumentParser) -> None:
    from archspace.search.commands import add_search_args

    add_search_args(p)


def cmd_space(args: argparse.Namespace) -> int:
    """Show a search space (genes, size, valid share, samples) or write samples of it."""
    from archspace.search.space_cli import run

    return run(args)


def _space_args(p: argparse.ArgumentParser) -> None:
    from archspace.search.space_cli import add_args

    add_args(p)


def cmd_results(args: argparse.Namespace) -> int:
    """Rebuild a run folder from a shared storage."""
    from archspace.search.results_cli import run

    return run(args)


def _results_args(p: argparse.ArgumentParser) -> None:
    from archspace.search.results_cli import add_args

    add_args(p)


def _zoo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--fvcore", action="store_true", help="also build and trace every model with fvcore, and say whether it agrees")


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _force_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="build even when the memory estimate exceeds the memory available")


def _build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="genotype file (.json, .yaml)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _force_flag(p)


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", help="genotype files")


def _convert_weights_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="the official checkpoint (.pth, .pth.tar, .bin, .safetensors)")
    p.add_argument("--from", dest="family", required=True, metavar="FAMILY",
                   help="which code wrote it: official-transxnet, official-stm, official-contnet, official-cbtnet, official-scsc-swin, timm")
    p.add_argument("--genotype", required=True, help="our genotype of the same network (its reference.official names it)")
    p.add_argument("--out", required=True, help="where to write our state_dict (.pth)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def cmd_convert_weights(args: argparse.Namespace) -> int:
    from archspace.weights.command import run

    return run(args)


COMMANDS: list[Command] = [
    ("build", "build a genotype and print params, FLOPs, output shape and a per-stage table", _build_args, cmd_build),
    ("validate", "validate genotype files (exit 0 when all are valid)", _validate_args, cmd_validate),
    ("schema", "print the genotype JSON Schema", lambda p: None, cmd_schema),
    ("plan", "resolved genotype, map sizes, channels, ops, params and FLOPs per block (marks an invalid field)", _plan_args, cmd_plan),
    ("export", "export to ONNX (checked in onnxruntime) and/or a torch.export program, with a dynamic batch axis", _export_args, cmd_export),
    ("zoo", "the published models we ship, ours vs the paper's params and FLOPs", _zoo_args, cmd_zoo),
    ("cost", "params, FLOPs (analytic and fvcore), latency and memory of genotype files", _cost_args, cmd_cost),
    ("latency-table", "build a device's latency lookup table (resumable)", _latency_table_args, cmd_latency_table),
    ("probe", "effective receptive field, invariance, FGSM robustness and throughput of models, compared in one table", _probe_args, cmd_probe),
    ("convert-weights", "convert an official checkpoint into a state_dict of our genotype", _convert_weights_args, cmd_convert_weights),
    ("space", "a search space: `show FILE` (genes, size, valid share, samples) or `sample FILE -n N --out DIR`", _space_args, cmd_space),
    ("search", "constrained architecture search from a search config (resumable: the same --out continues)", _search_args, cmd_search),
    ("pareto", "Pareto front of a search run, against the published models (front.png, front.html)", lambda p: _run_args(p, "pareto"), cmd_pareto),
    ("analyze", "design-space analysis of a search run: EDFs per gene, importance, findings", lambda p: _run_args(p, "analyze"), cmd_analyze),
    ("report", "write RUN/report.md and RUN/report.html for a search run", lambda p: _run_args(p, "report"), cmd_report),
    ("results", "`export --storage URL --study NAME --out DIR`: a run folder rebuilt from a shared Optuna storage", _results_args, cmd_results),
    ("supernet", "weight-sharing supernet: `train CONFIG --out DIR`, `extract DIR GENOTYPE --out model.pth`, `rate DIR GENOTYPE...`",
     lambda p: __import__("archspace.supernet.cli", fromlist=["add_args"]).add_args(p), lambda a: __import__("archspace.supernet.cli", fromlist=["run"]).run(a)),
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"archspace: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="archspace", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_text, add_args, run in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_args(p)
        p.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.run(args)
    except ArchspaceError as err:
        print(f"archspace: error: {err}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:
        print(f"archspace: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archspace: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
