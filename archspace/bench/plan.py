"""What a table trains: uniform samples of the space, the published models it contains, a probe pair; and the jobs.

Entries are put onto the task exactly as a search puts them (`adapt`), then narrowed to the protocol's
width (`narrow`). The sample is the first `n` valid, distinct genotypes that Optuna's RandomSampler
draws with `sample_seed`, so a larger `n` extends a table and keeps every row it has.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from archspace.bench.protocol import TableProtocol
from archspace.cost.analytic import analytic_cost
from archspace.errors import GenotypeError
from archspace.genotype.adapt import adapt
from archspace.genotype.io import canonical_dict, genotype_from_dict
from archspace.genotype.scale import narrow
from archspace.genotype.schema import Genotype

PROBE_BASE = "u_dwconv_tiny"  # the skeleton of the local/global probe pair
PROPERTY_ARCHS = 30  # random architectures a task's spread is measured over (issue 18, property 1)


@dataclass(frozen=True)
class Entry:
    """One architecture of the table: its genotype at the space's target size and as it is trained."""

    arch_id: str  # id of the genotype at the target resolution (what a search samples)
    source: str  # "random", "zoo:<name>" or "probe:<local|global>"
    genotype: Genotype
    trained: Genotype  # adapted to the task and narrowed

    def costs(self) -> dict[str, int]:
        return {
            "params": analytic_cost(self.trained).total.params,
            "flops_target": analytic_cost(self.genotype).total.flops,
            "flops_task": analytic_cost(self.trained).total.flops,
        }

    def as_row(self) -> dict[str, Any]:
        return {"arch_id": self.arch_id, "source": self.source, "trained_id": self.trained.id, **self.costs()}


def trained_form(genotype: Genotype, protocol: TableProtocol, in_chans: int, num_classes: int, image_size: int) -> Genotype:
    """The network the table trains for `genotype`: adapted to the task, widths divided by the protocol's divisor."""
    return narrow(adapt(genotype, image_size, in_chans, num_classes), protocol.width_divisor)


def random_entries(space, protocol: TableProtocol, shape: tuple[int, int, int]) -> tuple[list[Entry], dict[str, int]]:
    """The first `protocol.n` valid, distinct, trainable genotypes of a seeded RandomSampler; counts what it skipped."""
    from collections import Counter

    from archspace.search.sampling import optuna_random_genotypes

    entries: list[Entry] = []
    skipped: Counter = Counter({"invalid": 0, "duplicate": 0, "not trainable at the task's size or width": 0})
    for genotype in optuna_random_genotypes(space, protocol.sample_seed, skipped):
        if len(entries) == protocol.n:
            break
        if sum(skipped.values()) > 50 * protocol.n + 1000:
            raise GenotypeError("space", f"fewer than {protocol.n} trainable genotypes found in {len(entries) + sum(skipped.values())} draws")
        try:
            entries.append(Entry(genotype.id, "random", genotype, trained_form(genotype, protocol, *shape)))
        except GenotypeError:
            skipped["not trainable at the task's size or width"] += 1
    return entries, dict(skipped)


def zoo_entries(space, protocol: TableProtocol, shape: tuple[int, int, int]) -> list[Entry]:
    """Every published model the space contains (same id), as the table trains it."""
    from archspace.zoo import zoo_genotype, zoo_names

    out = []
    for name in zoo_names():
        genotype = zoo_genotype(name)
        if space.contains(genotype):
            try:
                out.append(Entry(genotype.id, f"zoo:{name}", genotype, trained_form(genotype, protocol, *shape)))
            except GenotypeError:
                continue
    return out


def probe_pair(protocol: TableProtocol, shape: tuple[int, int, int]) -> list[Entry]:
    """A local-only network (3x3 depthwise mixers everywhere) and a global-attention one (MHSA everywhere) on one skeleton.

    The global network's MLP ratio is 3 against the local one's 4, which puts their FLOPs at the task's size within
    a few percent of each other (printed by `archspace bench show`).
    """
    from archspace.zoo import zoo_genotype

    base = canonical_dict(zoo_genotype(PROBE_BASE))
    out = []
    for name, mixer, ratio in (("local", {"kind": "dwconv", "kernel": 3, "proj": True}, 4), ("global", {"kind": "mhsa", "head_dim": 32}, 3)):
        data = canonical_dict(genotype_from_dict(base))
        for stage in data["stages"]:
            stage["mixer"] = dict(mixer)
            stage["ffn"] = {"kind": "mlp", "ratio": ratio}
        data.update(name=f"probe_{name}", reference=None, notes=f"{name} probe on the {PROBE_BASE} skeleton")
        genotype = genotype_from_dict(data)
        out.append(Entry(genotype.id, f"probe:{name}", genotype, trained_form(genotype, protocol, *shape)))
    return out


def all_entries(space, protocol: TableProtocol, shape: tuple[int, int, int]) -> tuple[list[Entry], dict[str, int]]:
    """Random samples, then the zoo models, then the probe pair (as the protocol asks); no architecture twice."""
    entries, skipped = random_entries(space, protocol, shape)
    extra = (zoo_entries(space, protocol, shape) if protocol.zoo else []) + (probe_pair(protocol, shape) if protocol.probes else [])
    have = {e.arch_id for e in entries}
    for entry in extra:
        if entry.arch_id not in have:
            entries.append(entry)
            have.add(entry.arch_id)
    return entries, skipped


def jobs(entries: list[Entry], protocol: TableProtocol) -> Iterator[tuple[Entry, int]]:
    """(entry, seed) pairs, in the order that lets a partly built table state its task's properties soonest: the
    probe pair with every seed (the probe gap, a first noise estimate), the first PROPERTY_ARCHS random
    architectures once (the spread), the noise architectures' other seeds (the seed noise, the seed-vs-seed
    ceiling), then every other entry once."""
    probes = [e for e in entries if e.source.startswith("probe:")]
    randoms = [e for e in entries if e.source == "random"]
    first, noisy = randoms[:PROPERTY_ARCHS], randoms[: protocol.noise_archs]
    for entry in probes:
        for seed in range(protocol.seeds):
            yield entry, seed
    for entry in first:
        yield entry, 0
    for seed in range(1, protocol.seeds):
        for entry in noisy[:PROPERTY_ARCHS]:
            yield entry, seed
    for entry in entries:
        if entry not in probes and entry not in first:
            yield entry, 0
    for seed in range(1, protocol.seeds):
        for entry in noisy[PROPERTY_ARCHS:]:
            yield entry, seed
