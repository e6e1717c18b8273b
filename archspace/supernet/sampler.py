"""Which subnets a training step runs: uniform single-path samples, and the sandwich rule's extremes.

Single-path one-shot (Guo et al. 2020, SPOS, Sec. 3): one path drawn uniformly from the space per step.
Sandwich rule (Yu et al. 2020, BigNAS, Sec. 3.1): the largest subnet, the smallest and n random ones per
step. Here "largest"/"smallest" put every sized gene (width, depth, ratio, kernel, ...) at its largest or
smallest value and draw the genes without a size (mixer and FFN kind, booleans) uniformly.
The generator is seeded per (seed, epoch), so every DDP process draws the same paths and a run resumed at
an epoch boundary draws what the uninterrupted run drew.
"""
from __future__ import annotations

import random
from typing import Any, Sequence

from archspace.errors import ArchspaceError
from archspace.genotype.schema import Genotype
from archspace.search.sampling import RandomTrial
from archspace.search.space import SearchSpace
from archspace.supernet.scan import _order, adapted


class ExtremeTrial(RandomTrial):
    """A random trial whose sized genes all take their largest (or smallest) value."""

    def __init__(self, rng: random.Random, largest: bool):
        super().__init__(rng)
        self.largest = largest

    def _extreme(self, values: Sequence[Any]) -> Any:
        sizes = [_order(v) for v in values]
        if any(s is None for s in sizes):
            return self.rng.choice(list(values))
        pick = max if self.largest else min
        return values[pick(range(len(values)), key=lambda i: sizes[i])]

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self.params.setdefault(name, self._extreme(list(choices)))

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        return self.params.setdefault(name, high if self.largest else low)

    def suggest_float(self, name: str, low: float, high: float, step: float | None = None, log: bool = False) -> float:
        return self.params.setdefault(name, high if self.largest else low)


class PathSampler:
    """Draws subnets of `space` put onto the data and narrowed by `width_divisor`; `epoch(e)` reseeds it for epoch e."""

    def __init__(self, space: SearchSpace, image_size: int, in_chans: int, num_classes: int, seed: int = 0, width_divisor: int = 1):
        self.space, self.dims, self.seed, self.width_divisor = space, (image_size, in_chans, num_classes), seed, width_divisor
        self.rng = random.Random(f"{seed}:0")

    def epoch(self, epoch: int) -> None:
        self.rng = random.Random(f"{self.seed}:{epoch}")

    def draw(self, kind: str = "random") -> Genotype:
        """A valid subnet: kind random (uniform), largest or smallest (up to 200 draws, then one line saying so)."""
        for _ in range(200):
            trial = RandomTrial(self.rng) if kind == "random" else ExtremeTrial(self.rng, kind == "largest")
            genotype = adapted(self.space, trial, *self.dims, self.width_divisor)
            if genotype is not None:
                return genotype
        raise ArchspaceError(f"supernet: 200 {kind} draws of space {self.space.name} gave no genotype valid at {self.dims[0]} px and width divisor {self.width_divisor}")

    def step(self, sandwich: bool, random_paths: int) -> list[Genotype]:
        """The subnets of one training step (the teacher first under the sandwich rule)."""
        if not sandwich:
            return [self.draw()]
        return [self.draw("largest"), self.draw("smallest")] + [self.draw() for _ in range(random_paths)]
