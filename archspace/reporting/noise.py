"""Seed noise of the front and the published points for `archspace pareto --seeds K`: each point's score at K seeds
(the recorded one and K-1 replicas the search layer evaluates and caches, archspace.search.seeds), its mean and std,
and the verdict on each published model under the one noise rule (archspace.pareto.noise_verdict)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from archspace.errors import ArchspaceError
from archspace.pareto import NOISE_Z, UNCHECKED, Objective, noise_verdict, seed_stats

SCORE = "score"


def seed_scores(run, front: pd.DataFrame, published: list[dict[str, Any]], k: int, progress=None,
                workers: int = 1) -> tuple[list[list[float]], list[list[float]]]:
    """Scores at seeds cfg.seed .. cfg.seed + k - 1 of each front trial and each published row (the recorded score first;
    a replica that failed is left out); the replicas not cached yet are evaluated on `workers` processes."""
    from archspace.search.seeds import replicate
    from archspace.zoo import zoo_genotype

    if k == 1:
        return [[float(s)] for s in front[SCORE]], [[float(m[SCORE])] for m in published]
    models = front_models(run, front) + [(m["name"], zoo_genotype(m["name"])) for m in published]
    replicas = replicate(run, models, k, progress, workers)
    firsts = [float(s) for s in front[SCORE]] + [float(m[SCORE]) for m in published]
    scores = [[first] + [float(r[SCORE]) for r in rows if r.get(SCORE) is not None] for first, rows in zip(firsts, replicas)]
    return scores[:len(front)], scores[len(front):]


def front_models(run, front: pd.DataFrame) -> list[tuple[str, Any]]:
    """(label, genotype) of each front trial, as its seed replicas are labelled."""
    from archspace.genotype import load_genotype

    return [(f"trial {int(r['number'])}", load_genotype(run.genotype_path(str(r["genotype_id"])))) for _, r in front.iterrows()]


def stats_fields(scores: list[float]) -> dict[str, Any]:
    """pareto.json's per-point noise fields: score_mean, score_std (None from one seed) and score_seeds."""
    mean, std = seed_stats(scores)
    return {"score_mean": mean, "score_std": std, "score_seeds": list(scores)}


def check_seeds(k: int, z: float, names: list[str]) -> None:
    """One-line errors for a --seeds or --noise-z the run cannot use."""
    if not z >= 0:
        raise ArchspaceError(f"--noise-z: must be 0 or more, got {z}")
    if k < 1:
        raise ArchspaceError(f"--seeds: must be 1 or more, got {k}")
    if k > 1 and SCORE not in names:
        raise ArchspaceError(f"--seeds: the run's objectives ({', '.join(names)}) hold no score to evaluate at other seeds")


def mean_matrix(rows: list[dict[str, Any]], names: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Points with the score replaced by its mean, and their stds (0 for costs); None where some std is unknown."""
    means = np.array([[r["score_mean"] if n == SCORE else r[n] for n in names] for r in rows], dtype=float).reshape(-1, len(names))
    if any(r.get("score_std") is None for r in rows):
        return means, None
    stds = np.array([[r["score_std"] if n == SCORE else 0.0 for n in names] for r in rows], dtype=float).reshape(-1, len(names))
    return means, stds


def verdicts(front_rows: list[dict], published_rows: list[dict], objectives: list[Objective], z: float = NOISE_Z) -> list[tuple[str, list[int]]]:
    """Each published row's verdict against the front and the front indices behind it (archspace.pareto.noise_verdict)."""
    names = [o.name for o in objectives]
    if SCORE not in names:  # no score, no noise: the plain rule, as before --seeds
        front_rows = [{**r, "score_mean": None, "score_std": 0.0} for r in front_rows]
        published_rows = [{**r, "score_mean": None, "score_std": 0.0} for r in published_rows]
    f, f_std = mean_matrix(front_rows, names)
    p, p_std = mean_matrix(published_rows, names)
    out = []
    for i in range(len(p)):
        verdict, idx = noise_verdict(p[i], None if p_std is None else p_std[i], f, f_std, objectives, z)
        out.append((verdict, idx))
    return out


def rule_text(k: int, z: float = NOISE_Z) -> str:
    """The dominance rule in words, as pareto.json and the report state it."""
    if k == 1:
        return "no seed noise measured (--seeds 1): a published model is dominated on the recorded scores alone"
    return (f"a published model is dominated only when a front point is no worse on every cost and its mean score over {k} seeds "
            f"is higher by more than {z:g} x sqrt(std_a^2 + std_b^2) (the seed stds of the two points); otherwise it is within noise")


def verdict_words(verdict: str, k: int, z: float = NOISE_Z) -> str:
    """The verdict as the report lines say it."""
    if verdict == UNCHECKED:
        return "dominated (no seed noise measured; --seeds 3 to check)" if k == 1 else \
            "dominated (seed noise not measured: a seed's evaluation failed)"
    if k == 1:
        return verdict
    return f"{verdict} ({k} seeds; margin {z:g} x sqrt(std_a^2 + std_b^2))"


def closest_margin(row: dict, dominators: list[dict], z: float = NOISE_Z) -> dict[str, Any]:
    """For a published row within noise: the largest mean-score gain of a front point that dominates it on the means,
    the noise margin that gain had to exceed, and that trial."""
    best = max(dominators, key=lambda r: r["score_mean"] - row["score_mean"])
    return {"score_gain": best["score_mean"] - row["score_mean"], "margin": z * float(np.hypot(best["score_std"], row["score_std"])),
            "by": best["number"]}
