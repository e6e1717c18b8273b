"""Raw samples of a space without a study: uniform draws of every gene, for `space show` / `space sample`.

`RandomTrial` answers the same `suggest_*` calls as an Optuna trial, drawing as Optuna's RandomSampler
does (uniform choices, uniform or log-uniform ranges on their steps), without a storage round trip.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from archspace.genotype.schema import Genotype
from archspace.search.space import InvalidSample, SearchSpace


class RandomTrial:
    """A stand-in for an Optuna trial whose parameters are drawn uniformly from `rng`."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.params: dict[str, Any] = {}
        self.user_attrs: dict[str, Any] = {}

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self.params.setdefault(name, self.rng.choice(list(choices)))

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        if name not in self.params:
            if log:
                value = int(math.floor(math.exp(self.rng.uniform(math.log(low), math.log(high + 1)))))
                self.params[name] = min(max(value, low), high)
            else:
                self.params[name] = low + step * self.rng.randint(0, (high - low) // step)
        return self.params[name]

    def suggest_float(self, name: str, low: float, high: float, step: float | None = None, log: bool = False) -> float:
        if name not in self.params:
            if step:
                self.params[name] = low + step * self.rng.randint(0, round((high - low) / step))
            elif log:
                self.params[name] = math.exp(self.rng.uniform(math.log(low), math.log(high)))
            else:
                self.params[name] = self.rng.uniform(low, high)
        return self.params[name]

    def set_user_attr(self, key: str, value: Any) -> None:
        self.user_attrs[key] = value


@dataclass
class SampleStats:
    """Outcome of N raw samples: how many validated, and the reasons of the others by field."""

    total: int = 0
    valid: int = 0
    reasons: Counter = field(default_factory=Counter)

    @property
    def share(self) -> float:
        return self.valid / self.total if self.total else 0.0


def raw_samples(space: SearchSpace, n: int, seed: int = 0):
    """Yield n raw samples: a Genotype, or the InvalidSample the genotype's validation raised."""
    rng = random.Random(seed)
    for _ in range(n):
        try:
            yield space.sample(RandomTrial(rng))
        except InvalidSample as err:
            yield err


def measure(space: SearchSpace, n: int, seed: int = 0) -> SampleStats:
    """Share of valid genotypes over n raw samples; invalid ones counted by the field that refused them."""
    stats = SampleStats()
    for item in raw_samples(space, n, seed):
        stats.total += 1
        if isinstance(item, Genotype):
            stats.valid += 1
        else:
            stats.reasons[_generic(item.path)] += 1
    return stats


def valid_samples(space: SearchSpace, n: int, seed: int = 0, max_tries: int | None = None) -> tuple[list[Genotype], int]:
    """n valid, distinct genotypes (resampling the invalid ones) and the number of raw draws it took."""
    max_tries = max_tries or max(1000, 200 * n)
    found: dict[str, Genotype] = {}
    tries = 0
    for item in raw_samples(space, max_tries, seed):
        tries += 1
        if isinstance(item, Genotype):
            found.setdefault(item.id, item)
            if len(found) == n:
                break
    return list(found.values()), tries


def _generic(path: str) -> str:
    """`stages[2].mixer.heads` -> `stages[*].mixer.heads`: group reasons across stages."""
    import re

    return re.sub(r"^stages\[\d+\]", "stages[*]", path)


def optuna_random_genotypes(space: SearchSpace, seed: int, skipped: Counter) -> Iterator[Genotype]:
    """Valid, distinct genotypes in the order Optuna's seeded RandomSampler draws them (as a random search samples);
    invalid draws and repeats are counted in `skipped` ("invalid", "duplicate")."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    seen: set[str] = set()
    while True:
        try:
            genotype = space.sample(study.ask())
        except InvalidSample:
            skipped["invalid"] += 1
            continue
        if genotype.id in seen:
            skipped["duplicate"] += 1
            continue
        seen.add(genotype.id)
        yield genotype
