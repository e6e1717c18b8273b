"""The search's command-line adapters: `archspace search CONFIG` (the work is in runner.py / ray_backend.py) and
`archspace results export --storage URL --study NAME --out DIR` (a run folder rebuilt from a shared storage alone)."""
from __future__ import annotations

import argparse
import math
from pathlib import Path


def add_search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="search config (YAML), e.g. searches/quickstart.yaml")
    p.add_argument("--trials", type=int, default=None, help="total trials of the search (default: the config's)")
    p.add_argument("--out", default=None, help="run folder (default results/<config name>); the same --out resumes")
    p.add_argument("--workers", type=int, default=None, help="worker processes on this machine (default: the config's, 1); with --backend ray: at most N trials at once")
    p.add_argument("--seed", type=int, default=None, help="seed of the sampler and the evaluations (default: the config's, 0)")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: a journal file in the run folder)")
    p.add_argument("--timeout", type=float, default=None, help="seconds after which a trial is stopped and recorded FAIL")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    ray = p.add_argument_group("Ray Tune backend (--backend ray)")
    ray.add_argument("--backend", choices=["optuna", "ray"], default="optuna",
                     help="optuna: worker processes on this machine (default); ray: trials on a Ray cluster, ASHA for training")
    p.add_argument("--device", default=None, help="where evaluations run: cpu, cuda, cuda:1 (default: the config's); CUDA trains with AMP and channels-last")
    ray.add_argument("--address", default=None, help="join a running Ray cluster (auto or HOST:PORT); default: a local instance for the run")
    ray.add_argument("--cpus-per-trial", type=float, default=1, help="CPUs each Ray trial holds (default 1)")
    ray.add_argument("--gpus-per-trial", type=float, default=None, help="GPUs each Ray trial holds (default 1 when device is cuda, else 0)")


def run_search(args: argparse.Namespace) -> int:
    from archspace.search.runner import resolve_config, search

    cfg = resolve_config(args.config, args.trials, args.workers, args.seed, args.timeout)
    if args.device:
        from archspace.search.config import config_from_dict

        cfg = config_from_dict(cfg.model_dump(mode="json") | {"device": args.device}, where="command line")
    out = Path(args.out) if args.out else Path("results") / cfg.name
    if args.backend == "ray":
        from archspace.search.ray_backend import search_ray

        run, s = search_ray(cfg, out, storage=args.storage, address=args.address, cpus_per_trial=args.cpus_per_trial,
                            gpus_per_trial=args.gpus_per_trial, max_concurrent=args.workers, quiet=args.quiet)
    else:
        run, s = search(cfg, out, storage=args.storage, quiet=args.quiet)
    _print_summary(run, cfg, s)
    return 0


def _print_summary(run, cfg, s: dict) -> None:
    share = "" if math.isnan(s["feasible_share"]) else f" ({s['feasible_share']:.0%} of samples within budget)"
    print(f"search {cfg.name}: {s['done']} trials: {s['complete']} complete, {s['infeasible']} over budget, "
          f"{s['invalid']} invalid, {s['pruned']} pruned, {s['failed']} failed{share}")
    if cfg.multi_objective:
        print(f"Pareto front ({' vs '.join(o.name for o in cfg.objectives)}): {s.get('front_size', 0)} genotypes")
    elif "best" in s:
        print(f"best {cfg.objectives[0].name}: {s['best']:.4g} (genotype {s['best_id']})")
    print(f"results: {run.path}/trials.csv, {run.path}/genotypes/<id>.json, {run.path}/run.json")
    ok = run.trials()
    ok = ok[ok["state"] == "COMPLETE"]
    print("next:")
    print(f"  archspace pareto {run.path}          # front vs the published models")
    print(f"  archspace report {run.path}          # report.md / report.html")
    if len(ok):
        best = s.get("best_id") or ok.iloc[0]["genotype_id"]
        print(f"  archspace build {run.path}/genotypes/{best}.json")
    print(f"  optuna-dashboard {run.storage_url}          # browse the study (pip install optuna-dashboard)")


def add_results_args(p: argparse.ArgumentParser) -> None:
    """Arguments of `archspace results`."""
    p.add_argument("action", choices=["export"], help="export: write a run folder (config, run.json, trials.csv, genotypes) from the storage")
    p.add_argument("--storage", required=True, help="Optuna storage URL (postgresql+psycopg://..., sqlite:///..., or a .journal file)")
    p.add_argument("--study", required=True, help="study name (the search config's name)")
    p.add_argument("--out", required=True, help="new or empty folder for the run")


def run_results(args: argparse.Namespace) -> int:
    from archspace.search.progress import summary
    from archspace.search.restore import export_run

    run_dir, n = export_run(args.storage, args.study, Path(args.out))
    s = summary(run_dir.trials(), run_dir.config)
    print(f"exported {args.study}: {s['done']} trials ({s['complete']} complete, {s['running']} running), "
          f"{n} genotypes -> {run_dir.path}")
    return 0
