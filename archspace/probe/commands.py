"""`archspace probe MODEL...`: arguments and the run (heavy imports happen inside `run`)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from archspace.errors import ArchspaceError

NO_PLOTS = "no plots written (ERF maps, invariance curves, FGSM bars); add --out DIR to write them with probe.json and summary.md"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="+", metavar="MODEL", help="genotype files or zoo names (several give one comparison table per analysis)")
    p.add_argument("--weights", nargs="+", metavar="CKPT", help="state_dict file per MODEL, in order (default: seeded random weights)")
    p.add_argument("--erf", action="store_true", help="effective receptive field per stage (ERF@50 and gradient maps)")
    p.add_argument("--invariance", action="store_true", help="translation / rotation / scale sweeps")
    p.add_argument("--fgsm", action="store_true", help="clean and FGSM accuracy at eps 0.5/255, 2/255, 8/255")
    p.add_argument("--throughput", action="store_true", help="images/s at the paper's resolution/batch pairs (GPU) or a scaled-down CPU set")
    p.add_argument("--data", default="digits", help="'digits' (scikit-learn's bundled set, offline; default), 'digit_lookup' or 'digit_twins' (the generated tasks) or an ImageFolder path")
    p.add_argument("--image-size", type=int, default=None, help="input size (default: each genotype's own, e.g. 224)")
    p.add_argument("--images", type=int, default=32, help="images to probe on (default 32)")
    p.add_argument("--batch", type=int, default=16, help="batch size of the analyses (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the image subset and of random weights (default 0)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to run (default cpu)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--pairs", default=None, help="throughput RESOLUTION:BATCH list (default 256:128,512:32,1024:12 on cuda, 224:4,448:1 on cpu)")
    p.add_argument("--json", action="store_true", help="print every figure as one JSON object")
    p.add_argument("--out", default=None, metavar="DIR", help="write probe.json, summary.md and the PNG plots here (without it, only the tables are printed)")


def _check_inputs(args: argparse.Namespace) -> None:
    """Refuse bad models, sizes, checkpoints and data in one line before any analysis starts."""
    from archspace.probe.data import is_known
    from archspace.probe.models import at_image_size, resolve_genotype

    for model in args.models:
        genotype = resolve_genotype(model)
        at_image_size(genotype, args.image_size or genotype.image_size)
    for path in args.weights or ():
        if not Path(path).is_file():
            raise ArchspaceError(f"--weights: {path} not found")
    if not is_known(args.data):
        raise ArchspaceError(f"--data: {args.data} is neither 'digits', a generated task (digit_lookup, digit_twins) nor an image folder")


def run(args: argparse.Namespace) -> int:
    from archspace.probe.report import markdown, print_tables
    from archspace.probe.runner import ANALYSES, ProbeSettings, run_probe
    from archspace.probe.throughput import parse_pairs

    chosen = tuple(a for a in ANALYSES if getattr(args, a))
    if args.weights and len(args.weights) != len(args.models):
        raise ArchspaceError(f"--weights: give one checkpoint per MODEL ({len(args.models)}), got {len(args.weights)}")
    for name, value in (("--images", args.images), ("--batch", args.batch), ("--threads", args.threads)):
        if value < 1:
            raise ArchspaceError(f"{name}: must be at least 1, got {value}")
    settings = ProbeSettings(
        analyses=chosen or ("erf", "invariance", "fgsm"), data=args.data, image_size=args.image_size, images=args.images,
        batch=args.batch, seed=args.seed, device=args.device, threads=args.threads,
        pairs=parse_pairs(args.pairs) if args.pairs else None,
    )
    _check_inputs(args)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ArchspaceError("--device: 'cuda' requested but no CUDA device is present")
    results = run_probe(args.models, settings, args.weights)
    report = {"settings": settings.to_dict(), "models": [r.to_dict() for r in results]}
    if args.out:
        from archspace.atomic import write_text
        from archspace.probe.plots import write_plots

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        plots = write_plots(results, out)
        write_text(out / "probe.json", json.dumps(report, indent=1))
        write_text(out / "summary.md", markdown(results, settings.to_dict(), plots))
    if args.json:
        print(json.dumps(report))
    else:
        print_tables(results)
        if args.out:
            print(f"wrote {args.out}/summary.md, probe.json and the plots")
    if not args.out:
        print(NO_PLOTS, file=sys.stderr if args.json else sys.stdout)
    return 0
