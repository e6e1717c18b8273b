"""`archspace pareto`: a run's front beside the published models, as pareto.json, front.png and front.html.

The maths (sorting, hypervolume, knee, dominance) is archspace.pareto's; the published models are measured
by the search layer under the run's protocol (archspace.search.published, through `published.measured`).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from archspace.pareto import (DOMINATED, NOISE_Z, UNCHECKED, WITHIN_NOISE, dominance_gains, hypervolume, knee_of, objectives_from,
                              pareto_ranks, reference_point, score_is_accuracy, score_label, split_trials, target_size)
from archspace.reporting import noise
from archspace.reporting.front_plot import front_plots
from archspace.reporting.plotting import axis_for
from archspace.reporting import published as pub


def _row(r: pd.Series, names: list[str]) -> dict[str, Any]:
    return {n: (None if pd.isna(r[n]) else float(r[n])) for n in names}


def declared_reference(run) -> dict[str, float]:
    """Reference values the run declares: the config's `hypervolume_reference`, and 0 for a score that is an accuracy."""
    declared = {"score": 0.0} if ("score", "maximize") in run.objectives and score_is_accuracy(run) else {}
    return {**declared, **run.config.hypervolume_reference}


def front_report(run, against: Sequence[str] = (), progress=None, seeds: int = 1, noise_z: float | None = None,
                 workers: int = 1) -> dict[str, Any]:
    """The `archspace pareto` object: objectives, counts, front (knee marked), published models measured under the
    run's protocol and as reported, which published models a searched genotype dominates and by how much,
    and the hypervolume with its reference point, which depends on the run alone (its budgets, declared values and
    own trials), never on the published set compared. Writes pareto.json, front.png and front.html in the run.

    With `seeds` K > 1 each front point and published model is evaluated at K seeds (archspace.reporting.noise): its
    score's mean and std are stored, and a published model is called dominated only beyond the seed noise
    (archspace.pareto.dominates_beyond_noise with z = `noise_z`, None: NOISE_Z); else it is "within noise". Evaluations
    not cached in the run yet run on `workers` processes (archspace.search.evaluate_many)."""
    from archspace.zoo import zoo_dir

    objectives = objectives_from(run.objectives)
    names = [o.name for o in objectives]
    noise_z = NOISE_Z if noise_z is None else noise_z
    noise.check_seeds(seeds, noise_z, names)
    trials = run.trials()
    groups = split_trials(trials)
    counts = {"total": len(trials), **{k: len(v) for k, v in groups.items()}}
    # an invalid sample (the space's rules refused it) is recorded INFEASIBLE too, but was never over a budget
    counts["invalid"] = int(groups["INFEASIBLE"]["error"].astype("string").fillna("").str.startswith("invalid").sum()) \
        if "error" in trials else 0
    counts["INFEASIBLE"] -= counts["invalid"]
    feasible = groups["feasible"].dropna(subset=names)
    ranks = pareto_ranks(feasible[names].to_numpy(), objectives)
    front = feasible[ranks == 0].sort_values(names[::-1]).reset_index(drop=True)

    candidates = pub.select(run, list(against)) if against else []
    if seeds > 1 and noise.SCORE in names:  # every evaluation the report needs, in one pool
        from archspace.search.seeds import evaluate_missing

        evaluate_missing(run, [(c.name, c.genotype) for c in candidates if c.included], noise.front_models(run, front), seeds, workers, progress)
    measured = pub.measured(run, candidates, progress, workers) if candidates else []
    measured_ok = [m for m in measured if all(m.get(n) is not None for n in names)]
    pub_points = np.array([[m[n] for n in names] for m in measured_ok], dtype=float).reshape(-1, len(names))

    budgets = pub.run_budgets(run)
    ref = reference_point(feasible[names].to_numpy(dtype=float), objectives, budgets, declared_reference(run)) if len(feasible) else None
    k = knee_of(front[names].to_numpy(), objectives) if len(front) else None
    knee = front.iloc[k] if k is not None else None

    def genotype_file(gid: str) -> str:
        return str(run.genotype_path(gid))

    front_rows = [{"number": int(r["number"]), "genotype_id": r["genotype_id"], "genotype_file": genotype_file(r["genotype_id"]),
                   **_row(r, names), "knee": knee is not None and int(r["number"]) == int(knee["number"])} for _, r in front.iterrows()]
    published_rows = [{"name": m["name"], "genotype_id": m["genotype_id"], "genotype_file": str(zoo_dir() / f"{m['name']}.json"),
                       **{n: m.get(n) for n in ("flops", "params")}, **{n: m[n] for n in names}, "why": m["reason"]} for m in measured_ok]
    if noise.SCORE in names:
        front_scores, pub_scores = noise.seed_scores(run, front, measured_ok, seeds, progress, workers)
        for row, scores in zip(front_rows + published_rows, front_scores + pub_scores):
            row.update(noise.stats_fields(scores))
    dominated, within = [], []
    front_means = noise.mean_matrix(front_rows, names)[0]
    for row, (verdict, doms) in zip(published_rows, noise.verdicts(front_rows, published_rows, objectives, noise_z)):
        row.update(dominated=verdict in (DOMINATED, UNCHECKED), verdict=verdict, verdict_text=noise.verdict_words(verdict, seeds, noise_z))
        if row["dominated"]:  # gains on the mean scores (the recorded ones with --seeds 1)
            gains = dominance_gains(noise.mean_matrix([row], names)[0][0], front_means[doms], objectives)
            for g in gains.values():
                g["by"] = int(front["number"].iloc[doms[g.pop("by_index")]])
            dominated.append({"name": row["name"], "dominated_by": [int(front["number"].iloc[i]) for i in doms], "verdict": row["verdict_text"],
                              "gained": {o.name: gains[o.name] for o in objectives if o.maximise},
                              "saved": {o.name: gains[o.name] for o in objectives if not o.maximise}})
        elif verdict == WITHIN_NOISE:
            within.append({"name": row["name"], "dominated_on_means_by": [int(front["number"].iloc[i]) for i in doms],
                           "verdict": row["verdict_text"], **noise.closest_margin(row, [front_rows[i] for i in doms], noise_z)})
    hv = None
    if ref is not None:
        hv = {"value": hypervolume(front[names].to_numpy(dtype=float), objectives, ref.values) if len(front) else 0.0,
              "published": hypervolume(pub_points, objectives, ref.values) if len(pub_points) else None,
              "reference": ref.to_dict(objectives)}
    result = {
        "run": str(run.path),
        "objectives": [{"name": o.name, "direction": o.direction} for o in objectives],
        "counts": counts,
        "front": front_rows,
        "knee": front_rows[[r["knee"] for r in front_rows].index(True)] if knee is not None else None,
        "published": published_rows,
        "published_failed": [{"name": m["name"], "error": m.get("error", "no objective values")} for m in measured if m not in measured_ok],
        "published_excluded": [{"name": c.name, "reason": c.reason} for c in candidates if not c.included],
        "reported": pub.reported(candidates),
        "dominated": dominated,
        "within_noise": within,
        "seeds": seeds,
        "noise_rule": {"z": noise_z, "rule": noise.rule_text(seeds, noise_z)},
        "hypervolume": hv,
    }
    axes = {n: axis_for(n, target_size(run, trials), score_label(run)) for n in names}
    shown = trials.copy()
    shown["_role"] = "COMPLETE"
    for role in ("INFEASIBLE", "PRUNED", "FAIL"):
        shown.loc[groups[role].index, "_role"] = role
    shown = shown[shown["state"] != "RUNNING"]
    state_counts = {"COMPLETE": counts["feasible"], "INFEASIBLE": counts["INFEASIBLE"], "PRUNED": counts["PRUNED"], "FAIL": counts["FAIL"]}
    shown_axes = [(o.name, o.maximise) for o in objectives]
    if len(objectives) == 1 and "flops" in trials and names != ["flops"]:  # one objective: draw it against FLOPs
        shown_axes.insert(0, ("flops", False))
        axes["flops"] = axis_for("flops", target_size(run, trials), "")
    if seeds > 1:  # score ± std for the front and the published points
        front = front.assign(score_mean=[r["score_mean"] for r in front_rows], score_std=[r["score_std"] for r in front_rows])
    files = front_plots(run.path, shown, front, knee, pd.DataFrame(published_rows), shown_axes,
                              axes, state_counts, f"{run.study_name}: Pareto front of {counts['feasible']} feasible trials", budgets)
    result["files"] = [str(p) for p in files]
    run.write_json("pareto.json", result)
    return result
