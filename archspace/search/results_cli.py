"""`archspace results export --storage URL --study NAME --out DIR`: a run folder rebuilt from a shared storage alone."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_args(p: argparse.ArgumentParser) -> None:
    """Arguments of `archspace results`."""
    p.add_argument("action", choices=["export"], help="export: write a run folder (config, run.json, trials.csv, genotypes) from the storage")
    p.add_argument("--storage", required=True, help="Optuna storage URL (postgresql+psycopg://..., sqlite:///..., or a .journal file)")
    p.add_argument("--study", required=True, help="study name (the search config's name)")
    p.add_argument("--out", required=True, help="new or empty folder for the run")


def run(args: argparse.Namespace) -> int:
    from archspace.search.progress import summary
    from archspace.search.storage import export_run

    run_dir, n = export_run(args.storage, args.study, Path(args.out))
    s = summary(run_dir.trials(), run_dir.config)
    print(f"exported {args.study}: {s['done']} trials ({s['complete']} complete, {s['running']} running), "
          f"{n} genotypes -> {run_dir.path}")
    return 0
