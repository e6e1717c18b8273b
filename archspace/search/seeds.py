"""Seed replicas under a run's protocol: a genotype evaluated again at other seeds, to measure the seed noise of its score.

Replica i of K is the evaluation at seed `cfg.seed + i`; replica 0 is the recorded one (the trial's score, or the
published row of archspace.search.published), so `replicate` evaluates seeds `cfg.seed + 1 .. cfg.seed + K - 1`
only. Each evaluation goes through `published.evaluate_genotype` (exactly what a trial goes through, the seed
aside) and is cached in RUN/seeds.json under the genotype id and a key of the run's protocol
(`published.protocol_key`), the id of the network the evaluator builds (`published.built_id`) and the seed, so a
row made under another protocol, or for another network, is never reused.
"""
from __future__ import annotations

from functools import partial
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


def _key(run: RunDir, genotype, seed: int) -> str:
    return f"{published.protocol_key(run)}:{published.built_or_none(run, genotype)}:{seed}"


def pending(run: RunDir, models: list[tuple[str, Any]], k: int) -> list[tuple[int, int]]:
    """(model index, seed) of the replicas 1 .. k-1 not cached yet, each genotype's once."""
    cache, out, seen = run.read_cache(CACHE_FILE), [], set()
    for m, (_, genotype) in enumerate(models):
        for seed in replica_seeds(run, k):
            key = _key(run, genotype, seed)
            if key not in cache.get(genotype.id, {}) and (genotype.id, key) not in seen:
                seen.add((genotype.id, key))
                out.append((m, seed))
    return out


def store(run: RunDir, genotype, seed: int, result: dict[str, Any]) -> None:
    """Cache one replica in RUN/seeds.json under its genotype, the run's protocol, the network built and the seed."""
    cache = run.read_cache(CACHE_FILE)
    cache.setdefault(genotype.id, {})[_key(run, genotype, seed)] = result
    run.write_json(CACHE_FILE, cache)


def replicate(run: RunDir, models: list[tuple[str, Any]], k: int, progress: Callable[[str], None] | None = None,
              workers: int = 1) -> list[list[dict[str, Any]]]:
    """For each (label, genotype): its rows at replicas 1 .. k-1 (each with its `seed`), evaluated once per protocol
    and seed and cached in the run as each finishes, those not cached on `workers` processes. A replica that cannot
    be evaluated gets a row with its one-line `error`."""
    from archspace.search.evaluate_many import Evaluation, evaluate_many

    todo = pending(run, models, k)
    jobs = [Evaluation(f"{models[m][0]} at seed {seed}", models[m][1], seed) for m, seed in todo]
    for j, result in evaluate_many(published.evaluate_genotype, run, jobs, workers, progress):
        m, seed = todo[j]
        store(run, models[m][1], seed, result)
    cache = run.read_cache(CACHE_FILE)
    return [[{**cache[genotype.id][_key(run, genotype, seed)], "seed": seed} for seed in replica_seeds(run, k)] for _, genotype in models]


def evaluate_missing(run: RunDir, published_models: list[tuple[str, Any]], front_models: list[tuple[str, Any]], k: int,
                     workers: int, progress: Callable[[str], None] | None = None) -> None:
    """What `published.measure(published_models)` and `replicate(published_models + front_models, k)` would evaluate,
    in one pool of `workers` processes, model by model with each model's seeds together (so a long model's seeds run
    side by side instead of leaving one worker alone with the last of them); each row is cached as it finishes."""
    from archspace.search.evaluate_many import Evaluation, evaluate_many

    models = published_models + front_models
    stale, replicas = set(published.pending(run, published_models)), pending(run, models, k)
    jobs: list[tuple[Evaluation, Callable[[dict[str, Any]], None]]] = []
    for m, (label, genotype) in enumerate(models):
        if m in stale:
            jobs.append((Evaluation(label, genotype), partial(published.store, run, label, genotype)))
        jobs += [(Evaluation(f"{label} at seed {seed}", genotype, seed), partial(store, run, genotype, seed)) for mm, seed in replicas if mm == m]
    for j, result in evaluate_many(published.evaluate_genotype, run, [e for e, _ in jobs], workers, progress):
        jobs[j][1](result)
