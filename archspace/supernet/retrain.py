"""Retrain a supernet search's Pareto front stand-alone and set each rating beside the stand-alone accuracy.

A search run with `evaluator: {kind: supernet}` scored each candidate by its validation accuracy with inherited
weights. `retrain_front(run)` trains every genotype of the run's front from scratch with the `train` evaluator
(archspace.evaluate.train) on the run's data, at the supernet's width divisor (the network the supernet rated),
and returns both validation accuracies per genotype; `archspace supernet retrain RUN_DIR` prints them and
writes retrain.json in the run.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from archspace.errors import ArchspaceError


def supernet_divisor(folder: str | Path) -> int:
    """The width divisor a supernet folder was trained at (its supernet.json; 1 before the option existed)."""
    from archspace.supernet.checkpoint import META

    path = Path(folder) / META
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ArchspaceError(f"{path}: cannot read the supernet's summary ({err}); is it a folder `archspace supernet train` wrote?") from None
    return int(meta.get("config", {}).get("width_divisor", 1))


def front_rows(run: Any) -> list[dict[str, Any]]:
    """The run's Pareto front over its objectives: trial number, genotype id and objective values, by score."""
    from archspace.pareto import objectives_from, pareto_ranks, split_trials

    names = [name for name, _ in run.objectives]
    feasible = split_trials(run.trials())["feasible"].dropna(subset=names)
    if feasible.empty:
        raise ArchspaceError(f"{run.path}: no feasible trial yet, so no front to retrain")
    ranks = pareto_ranks(feasible[names].to_numpy(), objectives_from(run.objectives))
    front = feasible[ranks == 0].sort_values("score", ascending=False)
    return [{"number": int(r["number"]), "genotype_id": str(r["genotype_id"]), **{n: float(r[n]) for n in names}} for _, r in front.iterrows()]


def retrain_front(run_dir: str | Path, train: dict[str, Any], seed: int = 0, device: str = "cpu",
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the front of a supernet search stand-alone; returns (and writes to retrain.json) both accuracies per genotype."""
    from archspace.evaluate.data import load_data
    from archspace.evaluate.registry import make_evaluator
    from archspace.genotype import load_genotype
    from archspace.genotype.adapt import adapt
    from archspace.search.rundir import RunDir

    run = RunDir(run_dir)
    config = run.config
    if config.evaluator.get("kind") != "supernet":
        raise ArchspaceError(f"{run.path}: its evaluator is {config.evaluator.get('kind')!r}; retrain compares a supernet search's ratings")
    divisor = supernet_divisor(config.evaluator["checkpoint"])
    evaluator = make_evaluator({"kind": "train", "width_divisor": divisor, **train})
    bundle = load_data(config.data)
    dims = (bundle.image_size, bundle.in_chans, bundle.num_classes)
    rows = front_rows(run)
    log(f"retraining the {len(rows)} genotypes of {run.path}'s front stand-alone on {bundle.describe()} (widths / {divisor})")
    for row in rows:
        genotype = load_genotype(run.genotype_path(row["genotype_id"]))
        if (genotype.image_size, genotype.in_chans, genotype.num_classes) != dims:
            genotype = adapt(genotype, *dims)
        start = time.perf_counter()
        row["standalone"] = float(evaluator.evaluate(genotype, bundle, seed=seed, device=device)["score"])
        row["standalone_s"] = round(time.perf_counter() - start, 2)
        log(f"  trial {row['number']:>4}  {row['genotype_id']}  supernet {row['score']:.4f}  stand-alone {row['standalone']:.4f}  ({row['standalone_s']:.0f} s)")
    result = {"run": str(run.path), "width_divisor": divisor, "train": evaluator.cfg.model_dump(mode="json"), "seed": seed, "front": rows}
    if len(rows) >= 3:
        from scipy.stats import spearmanr

        result["spearman"] = float(spearmanr([r["score"] for r in rows], [r["standalone"] for r in rows]).statistic)
    run.write_json("retrain.json", result)
    return result
