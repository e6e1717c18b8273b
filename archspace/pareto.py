"""Pareto fronts of a search run: non-dominated sorting, hypervolume, knee, published models on the same axes.

Sorting and hypervolume use moocore (exact algorithms: O(n log n) in 2-D and 3-D, WFG-style beyond;
Fonseca et al. 2006, Guerreiro & Fonseca 2017), which takes a mix of minimised and maximised
objectives directly. Optuna 5 keeps its own hypervolume private (`optuna._hypervolume`), so we do not
build on it.

Only COMPLETE, feasible trials enter a front; pruned, failed and infeasible trials are counted and
plotted apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from archspace.errors import ArchspaceError

MINIMIZE, MAXIMIZE = "minimize", "maximize"
REFERENCE_MARGIN = 0.1


@dataclass(frozen=True)
class Objective:
    """One axis of the front: a trials.csv column and whether it is minimised or maximised."""

    name: str
    direction: str

    @property
    def maximise(self) -> bool:
        return self.direction == MAXIMIZE


def objectives_from(pairs: Sequence[tuple[str, str]]) -> list[Objective]:
    """Objectives from (name, direction) pairs; 'minimize'/'maximize' (Optuna's words), case-insensitive."""
    out = []
    for name, direction in pairs:
        d = str(direction).lower()
        if d not in (MINIMIZE, MAXIMIZE):
            raise ArchspaceError(f"objectives.{name}.direction: must be 'minimize' or 'maximize', got {direction!r}")
        out.append(Objective(name, d))
    if not out:
        raise ArchspaceError("objectives: the run names no objective")
    return out


def _matrix(values: Any, objectives: Sequence[Objective]) -> np.ndarray:
    points = np.asarray(values, dtype=float).reshape(-1, len(objectives))
    if not np.isfinite(points).all():
        raise ArchspaceError("pareto: objective values must be finite (NaN or inf found)")
    return points


def pareto_ranks(values: Any, objectives: Sequence[Objective]) -> np.ndarray:
    """Non-dominated sorting: rank 0 is the front, rank 1 the front once rank 0 is removed, ... (NSGA-II, Deb 2002).

    Equal points share a rank. `values` is an (n, m) array in the order of `objectives`.
    """
    import moocore

    points = _matrix(values, objectives)
    if len(points) == 0:
        return np.zeros(0, dtype=int)
    return np.asarray(moocore.pareto_rank(points, maximise=[o.maximise for o in objectives]), dtype=int)


def dominates(a: Sequence[float], b: Sequence[float], objectives: Sequence[Objective]) -> bool:
    """True when `a` is at least as good as `b` on every objective and strictly better on one."""
    sign = np.array([-1.0 if o.maximise else 1.0 for o in objectives])
    x, y = sign * np.asarray(a, dtype=float), sign * np.asarray(b, dtype=float)
    return bool(np.all(x <= y) and np.any(x < y))


NOISE_Z = 2.0
DOMINATED, WITHIN_NOISE, NOT_DOMINATED = "dominated", "within noise", "not dominated"
UNCHECKED = "dominated, seed noise not measured"


def seed_stats(scores: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof 1) of one point's score over seeds; the std is None from one seed."""
    x = np.asarray(scores, dtype=float)
    if len(x) == 0:
        raise ArchspaceError("seed noise: a point has no score at any seed")
    return float(x.mean()), (float(x.std(ddof=1)) if len(x) > 1 else None)


def dominates_beyond_noise(a: Sequence[float], b: Sequence[float], std_a: Sequence[float], std_b: Sequence[float],
                           objectives: Sequence[Objective], z: float = NOISE_Z) -> bool:
    """True when mean point `a` dominates mean point `b` by more than the seed noise: on every objective whose margin
    z * sqrt(std_a^2 + std_b^2) (z standard errors of the difference of two independent means) is positive, `a` is
    better by more than the margin; on every other (a cost, measured without noise) `a` is no worse; and it is better on
    one. With every std 0 this is `dominates`. The one rule `archspace pareto --seeds` calls a published model dominated by."""
    sign = np.array([1.0 if o.maximise else -1.0 for o in objectives])
    gain = sign * (np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
    margin = z * np.hypot(np.asarray(std_a, dtype=float), np.asarray(std_b, dtype=float))
    return bool(np.all(np.where(margin > 0, gain > margin, gain >= 0)) and np.any(gain > margin))


def noise_verdict(point: Sequence[float], point_std: Sequence[float] | None, front: Any, front_std: Any,
                  objectives: Sequence[Objective], z: float = NOISE_Z) -> tuple[str, list[int]]:
    """Where `point` stands against the `front` (mean values), and the front indices behind the verdict: DOMINATED
    (dominated beyond the noise by those), WITHIN_NOISE (dominated on the means by those, by none beyond the noise), or
    NOT_DOMINATED. Without a noise estimate (`point_std` or `front_std` None) a dominated point is UNCHECKED."""
    f = _matrix(front, objectives)
    on_means = [i for i in range(len(f)) if dominates(f[i], point, objectives)]
    if point_std is None or front_std is None:
        return (UNCHECKED, on_means) if on_means else (NOT_DOMINATED, [])
    fs = np.asarray(front_std, dtype=float).reshape(f.shape)
    beyond = [i for i in range(len(f)) if dominates_beyond_noise(f[i], point, fs[i], point_std, objectives, z)]
    if beyond:
        return DOMINATED, beyond
    return (WITHIN_NOISE, on_means) if on_means else (NOT_DOMINATED, [])


def hypervolume(values: Any, objectives: Sequence[Objective], reference: Sequence[float]) -> float:
    """Volume of objective space dominated by `values` and bounded by `reference` (exact; moocore).

    Points that do not strictly improve on the reference in every objective add nothing.
    """
    import moocore

    points = _matrix(values, objectives)
    ref = np.asarray(reference, dtype=float)
    if ref.shape != (len(objectives),) or not np.isfinite(ref).all():
        raise ArchspaceError(f"hypervolume: reference point must hold {len(objectives)} finite values, got {list(reference)}")
    sign = np.array([-1.0 if o.maximise else 1.0 for o in objectives])
    inside = np.all(sign * points < sign * ref, axis=1)
    if not inside.any():
        return 0.0
    return float(moocore.hypervolume(points[inside], ref=ref, maximise=[o.maximise for o in objectives]))


@dataclass(frozen=True)
class ReferencePoint:
    """The hypervolume reference point and, per objective, the rule that chose it."""

    values: tuple[float, ...]
    rules: tuple[str, ...]

    def to_dict(self, objectives: Sequence[Objective]) -> dict:
        return {o.name: {"value": v, "rule": r} for o, v, r in zip(objectives, self.values, self.rules)}


def reference_point(values: Any, objectives: Sequence[Objective], budgets: dict[str, float] | None = None,
                    declared: dict[str, float] | None = None) -> ReferencePoint:
    """Reference point for the hypervolume, chosen so that runs with the same budget compare.

    A value `declared` for an objective is used as given (a search config's `hypervolume_reference`, or 0 for
    an accuracy). A minimised objective with a budget uses the budget (the edge of the feasible region). Any
    other objective uses the worst value among `values`, moved outwards by 10% of their range (by 1 when all
    are equal), so that every front point counts: pass the run's own points only, so the reference does not
    move with the published models compared against it.
    """
    points = _matrix(values, objectives)
    budgets, declared = budgets or {}, declared or {}
    refs, rules = [], []
    for j, o in enumerate(objectives):
        if o.name in declared:
            refs.append(float(declared[o.name]))
            rules.append("declared")
            continue
        budget = budgets.get(o.name)
        if not o.maximise and budget is not None:
            refs.append(float(budget))
            rules.append("budget")
            continue
        if len(points) == 0:
            raise ArchspaceError(f"hypervolume: no point to place the reference of {o.name!r}, and no budget on it")
        col = points[:, j]
        span = float(col.max() - col.min()) or 1.0
        worst = float(col.min()) if o.maximise else float(col.max())
        refs.append(worst - REFERENCE_MARGIN * span if o.maximise else worst + REFERENCE_MARGIN * span)
        rules.append(f"worst observed {'-' if o.maximise else '+'} {REFERENCE_MARGIN:g} x range")
    return ReferencePoint(tuple(refs), tuple(rules))


KNEE_TOLERANCE = 1e-9


def knee_of(front: Any, objectives: Sequence[Objective]) -> int | None:
    """The front's knee (`knee_index`) where one exists, else None: a knee is a point strictly beyond the hyperplane
    through the normalised extremes (Das 1999). A front of fewer than 3 points, of one objective, or lying on or
    inside that plane (straight or convex towards the ideal point) has none: its `knee_index` would be a tie-break."""
    points = _matrix(front, objectives)
    if len(objectives) < 2 or len(points) < 3:
        return None
    sign = np.array([-1.0 if o.maximise else 1.0 for o in objectives])
    x = sign * points
    lo, hi = x.min(axis=0), x.max(axis=0)
    norm = (x - lo) / np.where(hi > lo, hi - lo, 1.0)
    best = knee_index(front, objectives)
    return best if norm[best].sum() < 1.0 - KNEE_TOLERANCE else None


def knee_index(front: Any, objectives: Sequence[Objective]) -> int:
    """Index of the front's knee: the point farthest beyond the hyperplane through the normalised extremes.

    Each objective is scaled to [0, 1] over the front (0 = best); the knee is the point with the smallest
    sum of scaled values, i.e. the farthest past the plane sum(x) = 1 toward the ideal point (Das 1999,
    "On characterizing the knee of the Pareto curve"; in 2-D: farthest from the line through the two
    extremes). Ties: the first.
    """
    points = _matrix(front, objectives)
    if len(points) == 0:
        raise ArchspaceError("knee: the front is empty")
    sign = np.array([-1.0 if o.maximise else 1.0 for o in objectives])
    x = sign * points
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    norm = (x - lo) / span
    return int(np.argmax(-norm.sum(axis=1)))


def dominance_gains(point: Sequence[float], dominators: Any, objectives: Sequence[Objective]) -> dict[str, dict]:
    """For a dominated point: per objective, the largest improvement any dominator makes, and which one.

    Since each dominator is no worse on every objective, a gain on a maximised objective is "score gained at
    no more cost", and a saving on a minimised one is "cost saved at no less score".
    """
    doms = _matrix(dominators, objectives)
    p = np.asarray(point, dtype=float)
    out = {}
    for j, o in enumerate(objectives):
        delta = (doms[:, j] - p[j]) if o.maximise else (p[j] - doms[:, j])
        best = int(np.argmax(delta))
        entry = {"gain" if o.maximise else "saved": float(delta[best]), "by_index": best}
        if not o.maximise and p[j] != 0:
            entry["saved_fraction"] = float(delta[best] / abs(p[j]))
        out[o.name] = entry
    return out


def split_trials(trials: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Trials by role: 'feasible' (COMPLETE, no violation) may enter a front; the rest by state."""
    state = trials["state"].astype(str)
    violation = pd.to_numeric(trials.get("violation", pd.Series(0.0, index=trials.index)), errors="coerce").fillna(0.0)
    feasible = (state == "COMPLETE") & (violation <= 0)
    groups = {"feasible": trials[feasible]}
    infeasible = (state == "INFEASIBLE") | ((state == "COMPLETE") & (violation > 0))
    groups["INFEASIBLE"] = trials[infeasible]
    for s in ("PRUNED", "FAIL", "RUNNING"):
        groups[s] = trials[state == s]
    return groups


def score_label(run) -> str:
    """The score axis in words, as the run's evaluator names it (e.g. top-1 accuracy, the proxy's name)."""
    cfg = run_config(run)
    ev = _evaluator(run)
    data = run.meta.get("eval") or {}
    where = f" on {data.get('dataset', cfg.get('data', {}).get('name', 'the data'))} at {data.get('image_size', '?')} px"
    return f"{ev.score_name}{where} " + ("(%)" if ev.score_is_accuracy else "(higher is better)")


def _evaluator(run):
    from archspace.evaluate.registry import make_evaluator

    return make_evaluator(run.config.evaluator)


def run_config(run) -> dict:
    """The run's resolved config as a plain dict."""
    return run.config.model_dump(mode="json")


def score_is_accuracy(run) -> bool:
    return _evaluator(run).score_is_accuracy


def target_size(run, trials: pd.DataFrame) -> int | None:
    """The target resolution costs are reported at: the config's, else that of the run's genotypes (the space's)."""
    size = (run.meta.get("target") or {}).get("image_size")
    if size:
        return int(size)
    from archspace.genotype import load_genotype

    for gid in trials["genotype_id"].dropna():
        path = run.genotype_path(str(gid))
        if path.is_file():
            return load_genotype(path).image_size
    return None
