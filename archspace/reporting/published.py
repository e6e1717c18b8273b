"""Published models beside a run: measured under the run's protocol (cached in the run), and as their papers report."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archspace.genotype import Genotype

@dataclass(frozen=True)
class Candidate:
    """A zoo model considered for a run, and why it is in or out."""

    name: str
    genotype: Genotype
    included: bool
    reason: str


def _budget_reason(run, genotype: Genotype) -> str | None:
    """Why a genotype at the run's target resolution is over a budget (the run's own cost rule), or None."""
    from archspace.genotype.adapt import adapt
    from archspace.search.constraints import Coster, violations

    cfg = run.config
    size, classes = cfg.target.image_size or genotype.image_size, cfg.target.num_classes or genotype.num_classes
    if (size, classes) != (genotype.image_size, genotype.num_classes):
        genotype = adapt(genotype, size, genotype.in_chans, classes)
    over = {k: v for k, v in violations(Coster.for_config(cfg)(genotype), cfg.budgets).items() if v > 0}
    return "; ".join(f"over the {k} budget by {100 * v:.0f}%" for k, v in over.items()) or None


def select(run, against: list[str]) -> list[Candidate]:
    """Zoo models to compare: with `against == ["zoo"]`, those the run's space contains (or is anchored on) and that
    fit its budgets; any other names are taken as named, whatever their cost."""
    from archspace.zoo import zoo_genotype, zoo_names

    named = [a for a in against if a != "zoo"]
    out = [Candidate(n, zoo_genotype(n), True, "named with --against") for n in named]
    if "zoo" in against:
        space = run_space(run)
        anchors = set(getattr(space, "anchors", ()) or ())
        for name in zoo_names():
            if name in named:
                continue
            g = zoo_genotype(name)
            if name not in anchors and not space.contains(g):
                out.append(Candidate(name, g, False, "outside the run's space"))
                continue
            over = _budget_reason(run, g)
            out.append(Candidate(name, g, over is None, over or ("anchor of the space" if name in anchors else "inside the space")))
    return out


def run_space(run):
    """The run's search space, loaded from the file its config names."""
    from archspace.search.space import SearchSpace

    return SearchSpace.from_file(run.config.space)


def run_budgets(run) -> dict[str, float]:
    """The run's budgets as {cost name: upper limit at the target resolution}."""
    return dict(run.config.budgets.items())


def measured(run, candidates: list[Candidate], progress=None, workers: int = 1) -> list[dict[str, Any]]:
    """Each included candidate as the search layer measured it under the run's protocol (archspace.search.published:
    evaluated once per protocol, on `workers` processes, cached in the run)."""
    from archspace.search.published import measure

    included = [c for c in candidates if c.included]
    rows = measure(run, [(c.name, c.genotype) for c in included], progress, workers)
    return [{"name": c.name, "genotype_id": c.genotype.id, "reason": c.reason, **row} for c, row in zip(included, rows)]


def reported(candidates: list[Candidate]) -> list[dict[str, Any]]:
    """The papers' own figures of every included candidate with a reference, labelled as reported (ImageNet-1k top-1;
    a face model's MegaFace rank-1 goes under `megaface_rank1`, never under `top1`)."""
    rows = []
    for c in (c for c in candidates if c.included):
        ref = c.genotype.reference
        if ref is None:
            continue
        task = "MegaFace rank-1, 1M distractors" if ref.megaface_rank1 is not None else "ImageNet-1k"
        rows.append({"name": c.name, "paper": ref.paper, "table": ref.table, "top1": ref.top1, "megaface_rank1": ref.megaface_rank1,
                     "params_m": ref.params_m, "flops_g": ref.flops_g, "source": f"reported by the paper ({task})"})
    return rows
