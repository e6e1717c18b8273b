"""The `archspace` command line. Bad input exits 2 with one line on stderr.

Each package's command-line adapters (arguments, then a call into the package) live in its `commands.py`
(archspace/commands.py for the genotype commands); COMMANDS names them as `module:function`."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from archspace.errors import ArchspaceError


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="genotype file (.json, .yaml)")
    p.add_argument("--img-size", default=None, help="plan at another input size: S or HxW (default: the genotype's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")




def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="genotype file (.json, .yaml)")
    p.add_argument("--onnx", default=None, metavar="OUT.onnx", help="write ONNX (dynamic batch), checked in onnxruntime")
    p.add_argument("--exported-program", default=None, metavar="OUT.pt2", help="write a torch.export program (dynamic batch)")
    p.add_argument("--img-size", default=None, help="export for another input size: S or HxW (default: the genotype's)")
    p.add_argument("--atol", type=float, default=1e-4, help="largest accepted |difference| from PyTorch (default 1e-4)")










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






















def _zoo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--fvcore", action="store_true", help="also build and trace every model with fvcore, and say whether it agrees")


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _lazy(ref: str) -> Callable:
    """`module:function`, imported on first call (so `archspace --help` imports no command's dependencies)."""
    module, name = ref.split(":")

    def call(*args):
        import importlib

        return getattr(importlib.import_module(module), name)(*args)

    return call


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




COMMANDS: list[Command] = [
    ("build", "build a genotype and print params, FLOPs, output shape and a per-stage table", _build_args, _lazy("archspace.commands:cmd_build")),
    ("validate", "validate genotype files (exit 0 when all are valid)", _validate_args, _lazy("archspace.commands:cmd_validate")),
    ("schema", "print the genotype JSON Schema", lambda p: None, _lazy("archspace.commands:cmd_schema")),
    ("plan", "resolved genotype, map sizes, channels, ops, params and FLOPs per block (marks an invalid field)", _plan_args,
     _lazy("archspace.explain:run_plan")),
    ("export", "export to ONNX (checked in onnxruntime) and/or a torch.export program, with a dynamic batch axis", _export_args,
     _lazy("archspace.export:run_export")),
    ("zoo", "the published models we ship, ours vs the paper's params and FLOPs", _zoo_args, _lazy("archspace.commands:cmd_zoo")),
    ("cost", "params, FLOPs (analytic and fvcore), latency and memory of genotype files", _cost_args, _lazy("archspace.cost.commands:run_cost")),
    ("latency-table", "build a device's latency lookup table (resumable)", _latency_table_args,
     _lazy("archspace.cost.commands:run_latency_table")),
    ("probe", "effective receptive field, invariance, FGSM robustness and throughput of models, compared in one table",
     _lazy("archspace.probe.commands:add_args"), _lazy("archspace.probe.commands:run")),
    ("convert-weights", "convert an official checkpoint into a state_dict of our genotype", _convert_weights_args,
     _lazy("archspace.weights.commands:run")),
    ("space", "a search space: `show FILE` (genes, size, valid share, samples) or `sample FILE -n N --out DIR`",
     _lazy("archspace.search.commands:add_space_args"), _lazy("archspace.search.commands:run_space")),
    ("search", "constrained architecture search from a search config (resumable: the same --out continues)",
     _lazy("archspace.search.commands:add_search_args"), _lazy("archspace.search.commands:run_search")),
    ("pareto", "Pareto front of a search run, against the published models (front.png, front.html)",
     _lazy("archspace.reporting.commands:pareto_args"), _lazy("archspace.reporting.commands:run_pareto")),
    ("analyze", "design-space analysis of a search run: EDFs per gene, importance, findings",
     _lazy("archspace.reporting.commands:analyze_args"), _lazy("archspace.reporting.commands:run_analyze")),
    ("report", "write RUN/report.md and RUN/report.html for a search run",
     _lazy("archspace.reporting.commands:report_args"), _lazy("archspace.reporting.commands:run_report")),
    ("results", "`export --storage URL --study NAME --out DIR`: a run folder rebuilt from a shared Optuna storage",
     _lazy("archspace.search.commands:add_results_args"), _lazy("archspace.search.commands:run_results")),
    ("supernet", "weight-sharing supernet: `train CONFIG --out DIR`, `extract DIR GENOTYPE --out model.pth`, `rate DIR GENOTYPE...`",
     _lazy("archspace.supernet.commands:add_args"), _lazy("archspace.supernet.commands:run")),
    ("bench", "trained-architecture table: `build SPACE --out DIR` (resumable; --workers, --backend ray), `show DIR`",
     _lazy("archspace.bench.commands:add_args"), _lazy("archspace.bench.commands:run")),
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"archspace: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def make_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, only that command's arguments are defined (the others' modules stay unimported)."""
    parser = _Parser(prog="archspace", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_text, add_args, run in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if command in (None, name):
            add_args(p)
        p.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = make_parser(command if command in {c[0] for c in COMMANDS} else None).parse_args(argv)
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
