"""`archspace bench build|show`: the CLI adapter of trained-architecture tables (logic in build.py and summary.py)."""
from __future__ import annotations

import argparse
import json
import sys

from archspace.errors import ArchspaceError


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["build", "show"], help="build: train what the table lacks (resumable); show: its figures")
    p.add_argument("path", help="build: the search-space file; show: the table folder")
    p.add_argument("--out", help="build: the table folder (the same folder resumes or extends it)")
    p.add_argument("--data", default=None, help="build: the task (default digit_lookup)")
    p.add_argument("--n", type=int, default=None, help="build: random architectures (default 100; a larger n extends a table)")
    p.add_argument("--epochs", type=int, default=None, help="build: training epochs per architecture (default 10)")
    p.add_argument("--max-steps", type=int, default=None, help="build: cap on optimizer steps per epoch (smoke runs; default none)")
    p.add_argument("--width-divisor", type=int, default=None, help="build: every width divided by this (default 4)")
    p.add_argument("--noise-archs", type=int, default=None, help="build: random architectures trained with every seed (default 20)")
    p.add_argument("--seeds", type=int, default=None, help="build: seeds of those architectures (default 3)")
    p.add_argument("--sample-seed", type=int, default=None, help="build: seed of the uniform sampler (default 0)")
    p.add_argument("--no-zoo", action="store_true", help="build: leave out the published models the space contains")
    p.add_argument("--workers", type=int, default=1, help="build: trainings at once, one core each (default 1)")
    p.add_argument("--backend", choices=["local", "ray"], default="local", help="build: worker processes here, or Ray tasks")
    p.add_argument("--address", default=None, help="build --backend ray: join the cluster at HOST:PORT (default: a local instance)")
    p.add_argument("--device", default="auto", help="build: auto (CUDA when present), cpu, cuda, cuda:1, ...")
    p.add_argument("--metric", choices=["test_acc", "val_acc"], default="test_acc", help="show: which accuracy (default test_acc)")
    p.add_argument("--json", action="store_true", help="show: print one JSON object")


def run(args: argparse.Namespace) -> int:
    if args.action == "build":
        return _build(args)
    return _show(args)


def _build(args: argparse.Namespace) -> int:
    from archspace.bench.build import build_table
    from archspace.bench.protocol import make_protocol

    if not args.out:
        raise ArchspaceError("bench build: --out DIR is required (the table folder)")
    if args.workers < 1:
        raise ArchspaceError(f"--workers: {args.workers} is not a positive count")
    train = {k: v for k, v in (("epochs", args.epochs), ("max_steps_per_epoch", args.max_steps)) if v is not None}
    fields = {"n": args.n, "width_divisor": args.width_divisor, "noise_archs": args.noise_archs, "seeds": args.seeds,
              "sample_seed": args.sample_seed, "zoo": False if args.no_zoo else None,
              "data": {"name": args.data} if args.data else None}
    protocol = make_protocol(args.path, **fields)
    if train:
        protocol = make_protocol(args.path, **fields, train=protocol.train.model_dump() | train)
    store = build_table(protocol, args.out, workers=args.workers, backend=args.backend, device=args.device, address=args.address)
    print(f"table: {store.rows_path} ({len(store.rows())} rows); `archspace bench show {store.path}` for its figures")
    return 0


def _show(args: argparse.Namespace) -> int:
    from archspace.bench.store import TableStore
    from archspace.bench.summary import render, summarize

    store = TableStore(args.path)
    rows = store.rows()
    if not rows:
        raise ArchspaceError(f"{args.path}: no table rows there (build one with `archspace bench build SPACE --out DIR`)")
    summary = summarize(rows, args.metric)
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        print()
    else:
        print("\n".join(render(summary)))
    return 0
