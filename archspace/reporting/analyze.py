"""`archspace analyze`: EDFs, findings and gene importance of a run (archspace.analysis, archspace.importance),
written as analysis.json and plots in the run."""
from __future__ import annotations

import numpy as np

from archspace.analysis import MIN_GROUP, Analysis, analyze_table, error_of
from archspace.errors import ArchspaceError
from archspace.importance import IMPORTANCE_BOOTSTRAP, gene_importance
from archspace.pareto import objectives_from, score_is_accuracy, score_label, split_trials
from archspace.reporting import analysis_plots
from archspace.reporting.plotting import axis_for


def trials_from_table(table, names: list[str]) -> list:
    """Optuna trials rebuilt from trials.csv rows (objective values and "gene:" columns), for importance where the study
    is absent: an integer gene spans the integers it took, a float gene its range, any other gene its values as
    categories; a gene that took one value is left out (it explains nothing)."""
    import optuna
    import pandas as pd
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    dists = {}
    for col in (c for c in table.columns if c.startswith("gene:")):
        seen = table[col].dropna()
        if seen.nunique() < 2:
            continue
        if pd.api.types.is_numeric_dtype(seen) and (seen == seen.round()).all():
            dists[col] = IntDistribution(int(seen.min()), int(seen.max()))
        elif pd.api.types.is_numeric_dtype(seen):
            dists[col] = FloatDistribution(float(seen.min()), float(seen.max()))
        else:
            dists[col] = CategoricalDistribution(sorted(seen.astype(str).unique()))
    out = []
    for _, row in table.iterrows():
        params = {c[5:]: (int(row[c]) if isinstance(d, IntDistribution) else float(row[c]) if isinstance(d, FloatDistribution) else str(row[c]))
                  for c, d in dists.items() if not pd.isna(row[c])}
        out.append(optuna.trial.create_trial(params=params, distributions={c[5:]: d for c, d in dists.items() if c[5:] in params},
                                             values=[float(row[n]) for n in names]))
    return out


def analyze_run(run, seed: int = 0, n_boot: int | None = None) -> tuple[Analysis, list[str]]:
    """`archspace analyze`: EDFs, findings and gene importance of a run's COMPLETE feasible trials; writes
    analysis.json, edf.png/html, importance.png/html and objective.png/html in the run."""
    trials = run.trials()
    groups = split_trials(trials)
    feasible = groups["feasible"].dropna(subset=["score"]).reset_index(drop=True)
    if len(feasible) < 2 * MIN_GROUP:
        raise ArchspaceError(f"analyze: {run.path} has {len(feasible)} complete feasible trials with a score; at least {2 * MIN_GROUP} are needed")
    accuracy = score_is_accuracy(run)
    genes, findings, err_name, unit, scale = analyze_table(feasible, accuracy, seed)
    effect = {g.gene: max(x.normalized_mean_error for x in g.groups) - min(x.normalized_mean_error for x in g.groups) for g in genes}
    genes.sort(key=lambda g: -effect[g.gene] if np.isfinite(effect[g.gene]) else 0.0)

    objectives = objectives_from(run.objectives)
    names = [o.name for o in objectives]
    importance, note = {}, ""
    if "score" in names:
        try:
            keep = set(feasible["number"].astype(int))
            frozen = [t for t in run.load_study().get_trials(deepcopy=False) if t.number in keep and t.values is not None]
        except ArchspaceError:  # no study (a committed result): the trials as trials.csv holds them
            frozen = trials_from_table(feasible, names)
            note = "the study is absent: trials rebuilt from trials.csv, each gene over the values it took"
        if len(frozen) >= 2 * MIN_GROUP:
            importance, why = gene_importance(frozen, [o.direction for o in objectives], names.index("score"), seed,
                                              IMPORTANCE_BOOTSTRAP if n_boot is None else n_boot)
            note = "; ".join(n for n in (note, why) if n)
    else:
        note = "no score objective: importance is computed for the score"
    result = Analysis(err_name, unit.strip() or "score units", len(feasible), genes, findings, importance, note)

    shown = trials.copy()
    shown["_role"] = "COMPLETE"
    for role in ("INFEASIBLE", "PRUNED", "FAIL"):
        shown.loc[groups[role].index, "_role"] = role
    score_axis = axis_for("score", None, score_label(run))
    errors, *_ = error_of(feasible["score"], accuracy)
    error_label = f"{err_name} ({'%' if accuracy else 'score units'})"
    files = analysis_plots.history_plots(run.path, shown, "score", True, score_axis, f"{run.study_name}: score by trial")
    files += analysis_plots.edf_plots(run.path, feasible, errors, genes, error_label, scale)
    files += analysis_plots.importance_plots(run.path, importance, f"{run.study_name}: gene importance for the score")
    run.write_json("analysis.json", result.to_dict())
    return result, [str(p) for p in files]
