"""`archspace space show FILE` and `archspace space sample FILE -n N --out DIR`."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from archspace.errors import ArchspaceError
from archspace.genotype import Genotype, dump_genotype
from archspace.search.sampling import measure, valid_samples
from archspace.search.space import SearchSpace

MAX_SAMPLES = 100_000


def add_args(p: argparse.ArgumentParser) -> None:
    """Arguments of `archspace space`."""
    p.add_argument("action", choices=["show", "sample"], help="show: genes, size, valid share, samples; sample: write genotype files")
    p.add_argument("file", help="search space file (.yaml)")
    p.add_argument("-n", type=int, default=None, help="show: raw samples for the valid share (default 1000); sample: genotypes to write (default 10)")
    p.add_argument("--out", default=None, help="sample: folder for the genotype files (required)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def run(args: argparse.Namespace) -> int:
    space = SearchSpace.from_file(args.file)
    if args.action == "show":
        return show(space, args.n or 1000, args.seed)
    if not args.out:
        raise ArchspaceError("space sample: --out DIR is required (where the genotype files go)")
    return sample(space, args.n or 10, Path(args.out), args.seed)


def _summary(genotype: Genotype) -> list[str]:
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


def show(space: SearchSpace, n: int, seed: int) -> int:
    """Print the genes with their domains, the size, the valid share over n raw samples, three valid samples."""
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


def sample(space: SearchSpace, n: int, out: Path, seed: int) -> int:
    """Write n distinct valid genotypes to out/<id>.json."""
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
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(dump_genotype(genotype))
        os.replace(tmp, path)
        print(path)
    print(f"wrote {n} genotypes from {tries} raw samples ({tries - n} invalid or repeated) to {out}/", flush=True)
    return 0
