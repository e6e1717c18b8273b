"""Seed replicas under a run's protocol: a genotype evaluated again at other seeds, to measure the seed noise of its score.

Replica i of K is the evaluation at seed `cfg.seed + i`; replica 0 is the recorded one (the trial's score, or the
published row of archspace.search.published), so `replicate` evaluates seeds `cfg.seed + 1 .. cfg.seed + K - 1`
only. Each evaluation goes through `published.evaluate_genotype` (exactly what a trial goes through, the seed
aside) and is cached in RUN/seeds.json under the genotype id and a key of the run's protocol
(`published.protocol_key`), the id of the network the evaluator builds (`published.built_id`) and the seed, so a
row made under another protocol, or for another network, is never reused.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from archspace.errors import ArchspaceError
from archspace.search import published
from archspace.search.rundir import RunDir

CACHE_FILE = "seeds.json"


def replica_seeds(run: RunDir, k: int) -> list[int]:
    """The seeds of replicas 1 .. k-1 (replica 0 is the run's own seed)."""
    if k < 1:
        raise ArchspaceError(f"--seeds: must be 1 or more, got {k}")
    return [run.config.seed + i for i in range(1, k)]


def replicate(run: RunDir, models: list[tuple[str, Any]], k: int, progress: Callable[[str], None] | None = None,
              workers: int = 1) -> list[list[dict[str, Any]]]:
    """For each (label, genotype): its rows at replicas 1 .. k-1 (each with its `seed`), evaluated once per protocol
    and seed and cached in the run as each finishes, those not cached on `workers` processes. A replica that cannot
    be evaluated gets a row with its one-line `error`."""
    from archspace.search.evaluate_many import Evaluation, evaluate_many

    seeds = replica_seeds(run, k)
    path = run.path / CACHE_FILE
    try:
        cache = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        cache = {}
    protocol = published.protocol_key(run)
    keys = [[f"{protocol}:{published.built_or_none(run, genotype)}:{seed}" for seed in seeds] for _, genotype in models]
    missing, seen = [], set()
    for m, (_, genotype) in enumerate(models):
        for s in range(len(seeds)):
            if keys[m][s] not in cache.get(genotype.id, {}) and (genotype.id, keys[m][s]) not in seen:  # once per genotype
                seen.add((genotype.id, keys[m][s]))
                missing.append((m, s))
    todo = [Evaluation(f"{models[m][0]} at seed {seeds[s]}", models[m][1], seeds[s]) for m, s in missing]
    for j, result in evaluate_many(run, todo, workers, progress):
        m, s = missing[j]
        cache.setdefault(models[m][1].id, {})[keys[m][s]] = result
        run.write_json(CACHE_FILE, cache)
    return [[{**cache[genotype.id][key], "seed": seed} for key, seed in zip(keys[m], seeds)] for m, (_, genotype) in enumerate(models)]
