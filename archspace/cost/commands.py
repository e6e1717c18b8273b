"""The cost commands of the CLI: `archspace cost` and `archspace latency-table build`."""
from __future__ import annotations

import argparse
import csv
import json
import sys

from archspace.errors import ArchspaceError

COLUMNS = ["name", "id", "params", "FLOPs", "FLOPs (fvcore)", "latency ms", "memory inf.", "memory train"]
"""Memory columns: `~` marks the analytic estimate; on CUDA the inference column is the measured peak."""


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def run_cost(args: argparse.Namespace) -> int:
    """One row per genotype: analytic and fvcore params/FLOPs, latency, estimated memory."""
    from archspace import load_genotype
    from archspace.cost.cache import ResultCache
    from archspace.cost.latency import (
        LatencySettings,
        device_fingerprint,
        fingerprint_text,
    )
    from archspace.cost.memory import check_fits
    from archspace.cost.summary import summarize

    if args.batch < 1 or args.threads < 1:
        raise ArchspaceError("--batch and --threads must be positive")
    table = None
    if args.latency != "none":
        LatencySettings(batch=args.batch, device=args.device, threads=args.threads).check()
    if args.latency == "predict":
        from archspace.cost.predictor import LatencyTable

        table = LatencyTable(LatencySettings(batch=args.batch, device=args.device, threads=args.threads))
        if not table.fitted_on:
            print(f"archspace: note: the latency table {table.path} has no fitted overhead; run `archspace latency-table build` first", file=sys.stderr)
    cache = ResultCache() if args.latency == "measure" else None
    rows, bad = [], 0
    for i, path in enumerate(args.files, 1):
        try:  # a bad file costs one line; the others still get their row
            g = load_genotype(path)
            print(f"[{i}/{len(args.files)}] {g.name}", file=sys.stderr, flush=True)
            if not args.force:
                check_fits(g, args.batch, device=args.device)
            rows.append(summarize(g, args.batch, args.latency, args.device, args.threads, fvcore=True, cache=cache, table=table))
        except ArchspaceError as err:
            print(f"archspace: error: {err}", file=sys.stderr, flush=True)
            bad += 1
    status = 2 if bad else 0
    if args.json:
        print(json.dumps([r.to_dict() for r in rows]))
        return status
    if args.csv:
        fields = list(rows[0].to_dict()) if rows else []
        writer = csv.DictWriter(sys.stdout, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow(r.to_dict())
        return status
    from rich.console import Console
    from rich.table import Table

    where = fingerprint_text(device_fingerprint(args.device, args.threads)) if args.latency != "none" else "no latency"
    title = f"archspace cost: batch {args.batch}, FLOPs = multiply-adds per image, latency {args.latency} ({where})"
    table_out = Table(title=title)
    for j, c in enumerate(COLUMNS):
        table_out.add_column(c, justify="left" if j < 2 else "right")
    for r in rows:
        lat = "" if r.latency_ms is None else f"{r.latency_ms:.2f}" + (f" ± {r.latency_iqr_ms:.2f}" if r.latency_iqr_ms is not None else " (pred.)")
        table_out.add_row(
            r.name, r.id, f"{r.params / 1e6:.2f}M", f"{r.flops / 1e9:.3f}G",
            f"{r.fvcore_flops / 1e9:.3f}G" if r.fvcore_flops is not None else "", lat,
            _mb(r.measured_inference_memory_bytes) if r.measured_inference_memory_bytes is not None else "~" + _mb(r.inference_memory_bytes),
            "~" + _mb(r.training_memory_bytes),
        )
    Console(width=160).print(table_out)
    return status


def run_latency_table(args: argparse.Namespace) -> int:
    """Build (or resume) the unit latency table of a device and fit its per-network overhead."""
    from archspace import load_genotype
    from archspace.cost.cache import ResultCache
    from archspace.cost.latency import LatencySettings, fingerprint_text
    from archspace.cost.predictor import build_table
    from archspace.cost.random import preset_genotypes

    if args.networks < 0:
        raise ArchspaceError("--networks must be non-negative")
    settings = LatencySettings(batch=args.batch, device=args.device, threads=args.threads, min_run_time=args.min_run_time)
    settings.check()
    genotypes = [load_genotype(f) for f in args.files] + preset_genotypes(args.networks, args.seed)
    if not genotypes:
        raise ArchspaceError("nothing to measure: give genotype files or --networks > 0")
    table = build_table(genotypes, settings, args.table, progress=True, cache=ResultCache())
    print(f"table     {table.path}")
    print(f"device    {fingerprint_text(table.fingerprint)}")
    print(f"units     {len(table.entries)}")
    scales = ", ".join(f"{k} {v:.2f}" for k, v in sorted(table.scales.items()))
    print(f"overhead  latency = sum(scale[group] x units of group) + {table.beta:.3f} ms (fitted on {table.fitted_on} networks)")
    print(f"scales    {scales}")
    return 0
