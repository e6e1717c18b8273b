"""The genotypes a supernet is sized from: the space's extremes and a cycle through every gene's values.

The shared tensors must have their final shapes before the optimizer exists, so the supernet is sized by a
scan, done once: every genotype of the scan is built on the meta device (no memory, no init) and each
owner tensor takes the largest size seen on each dim. The scan covers, for K = the most values any gene has:

- `max`: every numeric gene at its largest value, every other gene cycling through its values (k = 0..K-1);
- `wide`: stage widths and depths largest, the genes inside a mixer/FFN at their smallest (a size that
  falls as a gene grows, e.g. D-Mixer's IDConv channels (1 - attn_ratio) * C, peaks here);
- `cycle`: stage widths and depths largest, every other gene at its k-th value;
- `corner`: each gene at its smallest or largest value at random (sizes that take two genes at opposite
  ends, e.g. IDConv groups x (1 - attn_ratio), peak at some corner), and uniform samples of the space;
- per kind: for each stage's mixer/FFN kind gene and each of its values, that stage at its largest width and
  depth with the kind's genes at max, wide and each cycled value, every other stage as in a valid uniform
  sample. A scan genotype is skipped whole when any stage of it is invalid, which is common at a width
  divisor (a narrowed width a head count or group count no longer divides), so this mode varies one stage
  at a time on a valid rest.

A subnet whose tensor falls outside (a joint extreme the scan missed) is refused in one line naming it.
"""
from __future__ import annotations

import itertools
import json
import random
import re
from typing import Any, Iterator, Sequence

from archspace.genotype.adapt import adapt
from archspace.genotype.scale import narrow
from archspace.genotype.schema import Genotype
from archspace.search.sampling import RandomTrial
from archspace.search.space import InvalidSample, SearchSpace

STAGE_GENE = re.compile(r"^stages\[\d+\]\.(channels|depth)$")
STAGE_KIND = re.compile(r"^stages\[\d+\]\.(mixer|ffn)\.kind$")


def _order(label: Any) -> Any:
    """How big a value is, or None when it has no size (kinds, booleans, pooling names)."""
    if isinstance(label, bool) or label is None:
        return None
    if isinstance(label, (int, float)):
        return label
    if isinstance(label, str) and label.startswith("["):
        items = json.loads(label)
        return (len(items), sorted(items, reverse=True))
    return None


class ScanTrial:
    """Answers `suggest_*` for one scan genotype: `mode` in max, wide, cycle, corner; `k` picks the cycled values."""

    def __init__(self, mode: str, k: int, rng: random.Random | None = None, base: dict[str, Any] | None = None,
                 focus: str = "", pin: tuple[str, int] | None = None):
        """`base`: the params of a valid sample, kept for every gene outside `focus` (a name prefix);
        `pin`: (gene, index) fixes that gene at its index-th value."""
        self.mode, self.k, self.rng, self.pin = mode, k, rng, pin
        self.params: dict[str, Any] = {n: v for n, v in (base or {}).items() if not n.startswith(focus)} if base else {}

    def _pick(self, name: str, values: Sequence[Any]) -> Any:
        if self.pin is not None and name == self.pin[0]:
            return values[self.pin[1] % len(values)]
        sizes = [_order(v) for v in values]
        if STAGE_GENE.match(name):
            return values[max(range(len(values)), key=lambda i: sizes[i])]
        if self.mode == "corner":
            plain = any(s is None for s in sizes)
            pick_corner = max if self.rng.random() < 0.5 else min
            return self.rng.choice(values) if plain else values[pick_corner(range(len(values)), key=lambda i: sizes[i])]
        if self.mode == "cycle" or any(s is None for s in sizes):
            offset = len(name) if self.mode == "cycle" else 0  # cycle: genes out of step, so pairs of values vary
            return values[(self.k + offset) % len(values)]
        pick = max if self.mode == "max" else min
        return values[pick(range(len(values)), key=lambda i: sizes[i])]

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self.params.setdefault(name, self._pick(name, list(choices)))

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        return self.params.setdefault(name, self._pick(name, list(range(low, high + 1, step))))

    def suggest_float(self, name: str, low: float, high: float, step: float | None = None, log: bool = False) -> float:
        values = [low + i * step for i in range(round((high - low) / step) + 1)] if step else [low, high]
        return self.params.setdefault(name, self._pick(name, values))

    def set_user_attr(self, key: str, value: Any) -> None:
        pass


def adapted(space: SearchSpace, trial: Any, image_size: int, in_chans: int, num_classes: int, width_divisor: int = 1) -> Genotype | None:
    """A sample of the space put onto the data (`adapt`) and narrowed (`narrow`), or None when the space, `adapt`
    or `narrow` refuses it (a trained-architecture table at that divisor skips such a sample too)."""
    try:
        return narrow(adapt(space.sample(trial), image_size, in_chans, num_classes), width_divisor)
    except InvalidSample:
        return None
    except ValueError:  # GenotypeError from adapt or narrow: the sample cannot run at this size or width
        return None


def kind_trials(space: SearchSpace, bases: list[dict[str, Any]]) -> Iterator[ScanTrial]:
    """The per-kind scan: for each `stages[i].<mixer|ffn>.kind` gene and each value, stage i varied on a valid base."""
    if not bases:
        return
    genes = list(space.genes())
    inner: dict[str, int] = {}  # "stages[0].mixer.kind=dmixer" -> the most values one of that kind's genes has
    for gene in genes:
        if gene.condition:
            inner[gene.condition] = max(inner.get(gene.condition, 1), int(gene.count))
    n = 0
    for gene in genes:
        if gene.kind != "choice" or not STAGE_KIND.match(gene.name):
            continue
        focus = gene.name.split(".", 1)[0] + "."
        for index in range(int(gene.count)):
            first = ScanTrial("max", 0, base=bases[n % len(bases)], focus=focus, pin=(gene.name, index))
            yield first
            value = first.params.get(gene.name)
            cycles = inner.get(f"{gene.name}={value}", 1)
            for mode, k in [("wide", 0)] + [("cycle", k) for k in range(cycles)]:
                n += 1
                yield ScanTrial(mode, k, base=bases[n % len(bases)], focus=focus, pin=(gene.name, index))


def scan_genotypes(space: SearchSpace, image_size: int, in_chans: int, num_classes: int, n_random: int = 128, seed: int = 0,
                   width_divisor: int = 1) -> Iterator[Genotype]:
    """The scan's genotypes (distinct ids), adapted to the data and narrowed by `width_divisor`."""
    width = max([int(g.count) for g in space.genes() if g.kind in ("choice", "subset")] + [2])
    trials: list[Any] = [ScanTrial(mode, k) for mode in ("max", "wide", "cycle") for k in range(width)]
    rng = random.Random(seed)
    trials += [ScanTrial("corner", 0, rng) for _ in range(n_random)] + [RandomTrial(rng) for _ in range(n_random)]
    seen: set[str] = set()
    bases: list[dict[str, Any]] = []
    for trial in itertools.chain(trials, kind_trials(space, bases)):  # kind_trials runs once `bases` is filled
        genotype = adapted(space, trial, image_size, in_chans, num_classes, width_divisor)
        if genotype is not None and isinstance(trial, RandomTrial):
            bases.append(dict(trial.params))
        if genotype is not None and genotype.id not in seen:
            seen.add(genotype.id)
            yield genotype
