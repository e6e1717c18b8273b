"""Published models under a run's protocol: evaluated by the search layer, cached in the run under the protocol's key.

`evaluate_genotype(run, genotype)` puts a genotype (e.g. a zoo model at its target resolution) through
exactly what a trial goes through: the same target resolution, costs, budgets, adaptation rule, data,
evaluator (set up as the run's), seed and device. `measure(run, models)` caches each row in
RUN/published.json under the model's genotype id and a key of the full protocol (data and its size,
evaluator config and the state it names, e.g. a supernet checkpoint's content, seed, device kind, target,
costs and budgets, archspace version) and the id of the network the evaluator builds for it (`built_id`: after
`adapt` and e.g. `narrow`), so a row made under another protocol, or for another network, is never reused
silently: it is evaluated again.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from archspace.errors import ArchspaceError
from archspace.search.record import published_row
from archspace.search.rundir import RunDir
from archspace.search.trial import TrialContext

CACHE_FILE = "published.json"
_CONTEXTS: dict[str, TrialContext] = {}


def built_id(run: RunDir, genotype) -> str:
    """The id of the network `run`'s evaluator scores for `genotype` (at the target, adapted to the run's data, then
    as the evaluator derives it, e.g. narrowed): a cached row is reused only while it is the same network, so a
    change to `adapt` or `narrow` evaluates the model again. Needs no data and no evaluator set-up."""
    from archspace.evaluate.registry import make_evaluator
    from archspace.genotype.adapt import adapt
    from archspace.search.trial import target_form

    cfg, dims = run.config, run.meta["eval"]
    adapted = adapt(target_form(cfg, genotype), dims["image_size"], dims["in_chans"], dims["num_classes"])
    return make_evaluator(cfg.evaluator).built_form(adapted).id


def built_or_none(run: RunDir, genotype) -> str | None:
    """`built_id`, or None where the genotype cannot be put onto the run (its evaluation then says why, in one line)."""
    try:
        return built_id(run, genotype)
    except ArchspaceError:
        return None


def evaluate_genotype(run: RunDir, genotype, seed: int | None = None,
                      report: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """One genotype under `run`'s protocol: its costs, budget violation and evaluation, as a published row.
    `seed` replaces the run's seed (a seed replica, archspace.search.seeds); None is the run's own. A training
    evaluator calls `report(epoch, epochs, validation accuracy)` after each epoch."""
    from archspace.cost.analytic import analytic_cost
    from archspace.genotype.adapt import adapt
    from archspace.search.constraints import max_violation, violations
    from archspace.search.orchestrate import load_context

    key = str(Path(run.path).resolve())
    if key not in _CONTEXTS:
        _CONTEXTS[key] = load_context(run.path)[0]
    ctx = _CONTEXTS[key]
    g = ctx.to_target(genotype)
    costs = ctx.coster(g)
    b = ctx.bundle
    adapted = adapt(g, b.image_size, b.in_chans, b.num_classes)
    ev = analytic_cost(adapted).total
    epochs = ctx.evaluator.reported_epochs
    per_epoch = None if report is None else (lambda epoch, acc: report(epoch, epochs, acc))
    result = ctx.evaluator.evaluate(adapted, b, seed=ctx.cfg.seed if seed is None else seed, device=ctx.cfg.device, report=per_epoch)
    return published_row(genotype.name, g.id, costs.as_dict(), max_violation(violations(costs, ctx.cfg.budgets)),
                         adapted.image_size, ev.flops, ev.params, result)


def device_kind(device: str) -> str:
    """'cpu' or 'cuda' (any CUDA index is one kind); 'auto' is the kind it picks on this machine."""
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device.split(":")[0]


def protocol_key(run: RunDir) -> str:
    """A digest of everything a published row depends on besides the genotype, the evaluator's own state
    included (its `fingerprint`, e.g. the content of the supernet checkpoint its config names by path)."""
    from importlib.metadata import PackageNotFoundError, version

    from archspace.evaluate.registry import make_evaluator

    cfg = run.config
    try:
        archspace_version = version("archspace")
    except PackageNotFoundError:
        archspace_version = ""
    protocol = {
        "data": cfg.data, "data_size": run.meta.get("eval"), "evaluator": cfg.evaluator, "seed": cfg.seed,
        "device": device_kind(cfg.device), "target": cfg.target.model_dump(mode="json"), "costs": cfg.costs.model_dump(mode="json"),
        "budgets": cfg.budgets.model_dump(mode="json"), "archspace": archspace_version,
    }
    state = make_evaluator(cfg.evaluator).fingerprint()
    if state is not None:  # absent for kinds with no state outside the config, so their keys stay as they were
        protocol["evaluator_state"] = state
    return hashlib.sha256(json.dumps(protocol, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _current(hit: dict[str, Any] | None, genotype_id: str, built: str | None, key: str) -> bool:
    """Whether a cached row is of this genotype, built into this network, under this protocol."""
    return bool(hit) and (hit.get("genotype_id"), hit.get("built_id"), hit.get("protocol")) == (genotype_id, built, key)


def pending(run: RunDir, models: list[tuple[str, Any]]) -> list[int]:
    """The indices of the (name, genotype) models with no row cached under the run's protocol for the network built."""
    cache, key = run.read_cache(CACHE_FILE), protocol_key(run)
    return [i for i, (name, genotype) in enumerate(models) if not _current(cache.get(name), genotype.id, built_or_none(run, genotype), key)]


def store(run: RunDir, name: str, genotype, result: dict[str, Any]) -> None:
    """Cache one model's row in RUN/published.json under its name, genotype, built network and the run's protocol."""
    cache = run.read_cache(CACHE_FILE)
    cache[name] = {"genotype_id": genotype.id, "built_id": built_or_none(run, genotype), "protocol": protocol_key(run), "result": result}
    run.write_json(CACHE_FILE, cache)


def measure(run: RunDir, models: list[tuple[str, Any]], progress: Callable[[str], None] | None = None,
            workers: int = 1) -> list[dict[str, Any]]:
    """Rows of (name, genotype) models under the run's protocol, each evaluated once per protocol (cached in the run,
    each as it finishes), those not cached on `workers` processes. A model that cannot be evaluated gets a row with
    its one-line `error`."""
    from archspace.search.evaluate_many import Evaluation, evaluate_many

    todo = pending(run, models)
    for j, result in evaluate_many(evaluate_genotype, run, [Evaluation(*models[i]) for i in todo], workers, progress):
        store(run, *models[todo[j]], result)
    cache = run.read_cache(CACHE_FILE)
    return [cache[name]["result"] for name, _ in models]
