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


def replicate(run: RunDir, models: list[tuple[str, Any]], k: int,
              progress: Callable[[str], None] | None = None) -> list[list[dict[str, Any]]]:
    """For each (label, genotype): its rows at replicas 1 .. k-1 (each with its `seed`), evaluated once per protocol
    and seed and cached in the run. A replica that cannot be evaluated gets a row with its one-line `error`."""
    seeds = replica_seeds(run, k)
    path = run.path / CACHE_FILE
    try:
        cache = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        cache = {}
    protocol, out = published.protocol_key(run), []
    for label, genotype in models:
        entry = cache.setdefault(genotype.id, {})
        built, rows = published.built_or_none(run, genotype), []
        for seed in seeds:
            key = f"{protocol}:{built}:{seed}"
            if key not in entry:
                if progress:
                    progress(f"{label} at seed {seed}")
                try:
                    result = published.evaluate_genotype(run, genotype, seed=seed)
                except ArchspaceError as err:
                    result = {"error": str(err)}
                entry[key] = result
                run.write_json(CACHE_FILE, cache)
            rows.append({**entry[key], "seed": seed})
        out.append(rows)
    return out
