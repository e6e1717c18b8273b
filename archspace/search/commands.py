"""The search package's command-line adapters: `archspace search CONFIG` (the work is in runner.py /
ray_backend.py), `archspace results export --storage URL --study NAME --out DIR` (a run folder rebuilt from a
shared storage alone) and `archspace space show FILE` / `space sample FILE -n N --out DIR`."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from archspace.errors import ArchspaceError

MAX_SAMPLES = 100_000


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
    again = f"; and {s['interrupted']} interrupted (their process stopped; retried, one row each)" if s["interrupted"] else ""
    print(f"search {cfg.name}: {s['done']} trials: {s['complete']} complete, {s['infeasible']} over budget, "
          f"{s['invalid']} invalid, {s['pruned']} pruned, {s['failed']} failed{share}{again}")
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
    print(f"  optuna-dashboard {run.storage_shown}          # browse the study (pip install optuna-dashboard)")


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


def add_space_args(p: argparse.ArgumentParser) -> None:
    """Arguments of `archspace space`."""
    p.add_argument("action", choices=["show", "sample"], help="show: genes, size, valid share, samples; sample: write genotype files")
    p.add_argument("file", help="search space file (.yaml)")
    p.add_argument("-n", type=int, default=None, help="show: raw samples for the valid share (default 1000); sample: genotypes to write (default 10)")
    p.add_argument("--out", default=None, help="sample: folder for the genotype files (required)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def run_space(args: argparse.Namespace) -> int:
    from archspace.search.space import SearchSpace

    space = SearchSpace.from_file(args.file)
    if args.action == "show":
        return _show(space, args.n or 1000, args.seed)
    if not args.out:
        raise ArchspaceError("space sample: --out DIR is required (where the genotype files go)")
    return _sample(space, args.n or 10, Path(args.out), args.seed)


def _summary(genotype) -> list[str]:
    from archspace.cost.analytic import analytic_cost

    cost = analytic_cost(genotype).total
    stages = genotype.stages
    return [
        genotype.id,
        f"{cost.params / 1e6:.2f}M",
        f"{cost.flops / 1e9:.2f}G",
        "-".join(str(s.depth) for s in stages),
        "-".join(str(s.channels) for s in stages),
        "/".join(s.mixer.kind for s in stages),
        "/".join(s.ffn.kind if s.ffn is not None else "-" for s in stages),
    ]


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*r)
    Console(width=160).print(table)


def _show(space, n: int, seed: int) -> int:
    """Print the genes with their domains, the size, the valid share over n raw samples, three valid samples."""
    from archspace.search.sampling import measure, valid_samples
    from archspace.zoo import zoo_genotype

    print(f"space    {space.name}  ({space.source})")
    if space.description:
        print(f"about    {space.description}")
    inside = []
    for name in space.anchors:
        try:
            inside.append(f"{name} ({'inside' if space.contains(zoo_genotype(name)) else 'OUTSIDE'})")
        except ArchspaceError as err:
            inside.append(f"{name} (cannot load: {err})")
    print(f"anchors  {', '.join(inside) if inside else 'none'}")
    genes = space.genes()
    params = [g for g in genes if g.kind != "expr"]
    _print_table(
        f"{len(params)} genes (Optuna parameters), {len(genes) - len(params)} derived values",
        ["parameter", "kind", "domain", "exists when", "fields"],
        [[g.name, g.kind, g.domain, g.condition, ", ".join(g.paths) if len(g.paths) > 1 or g.paths[0] != g.name else ""] for g in genes],
    )
    log, how = space.log10_size()
    stats = measure(space, n, seed)
    if math.isinf(log):
        print("size     continuous (a float gene has no step)")
    else:
        valid_log = log + math.log10(stats.share) if stats.valid else -math.inf
        print(f"size     10^{log:.2f} distinct genotypes, valid or not ({how} over the gene tree); about 10^{valid_log:.2f} valid (estimated: size x valid share)")
    print(f"valid    {stats.share:.1%} of {stats.total} raw samples (uniform draws, seed {seed})")
    if stats.reasons:
        print("invalid  by field: " + ", ".join(f"{path} {count}" for path, count in stats.reasons.most_common()))
    found, _ = valid_samples(space, 3, seed)
    _print_table("valid samples (analytic cost at the space's resolution)", ["id", "params", "FLOPs", "depths", "widths", "mixers", "FFNs"], [_summary(g) for g in found])
    return 0


def _sample(space, n: int, out: Path, seed: int) -> int:
    """Write n distinct valid genotypes to out/<id>.json (each atomically)."""
    from archspace.genotype import dump_genotype
    from archspace.search.sampling import valid_samples

    if n < 1:
        raise ArchspaceError(f"space sample: -n must be at least 1, got {n}")
    log, how = space.log10_size()
    if math.isfinite(log) and math.log10(n) > log + 1e-9:
        size = f"{round(10**log):,}" if log < 15 else f"10^{log:.2f}"
        raise ArchspaceError(f"space sample: -n {n} is more than the {size} distinct genotypes the space has (valid or not, {how}); ask for at most that many")
    if n > MAX_SAMPLES:
        raise ArchspaceError(f"space sample: -n {n} is more than the {MAX_SAMPLES:,} genotype files one call writes")
    found, tries = valid_samples(space, n, seed)
    if len(found) < n:
        raise ArchspaceError(f"{space.source}: only {len(found)} distinct valid genotypes in {tries} raw samples; the space may be too small or mostly invalid")
    out.mkdir(parents=True, exist_ok=True)
    for genotype in found:
        path = out / f"{genotype.id}.json"
        dump_genotype(genotype, path)  # atomically
        print(path)
    print(f"wrote {n} genotypes from {tries} raw samples ({tries - n} invalid or repeated) to {out}/", flush=True)
    return 0
