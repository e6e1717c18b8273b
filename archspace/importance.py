"""Gene importance for the score of a search run's trials (Optuna's fANOVA and PED-ANOVA, with a bootstrap)."""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

IMPORTANCE_BOOTSTRAP = 20


def gene_importance(trials: list, directions: Sequence[str], score_index: int, seed: int = 0,
                    n_boot: int = IMPORTANCE_BOOTSTRAP) -> tuple[dict[str, dict[str, dict[str, float]]], str]:
    """Importance of each gene for the score by Optuna's fANOVA and PED-ANOVA evaluators, on the given (COMPLETE,
    feasible) Optuna trials and on `n_boot` bootstrap resamples of them: {evaluator: {gene: {value, mean, p05, p95}}}.

    fANOVA (Hutter et al. 2014) uses the genes every trial has; PED-ANOVA (Watanabe et al. 2023, conditional
    variant) also ranks conditional genes, by how much they matter to reach the top 10% of scores.
    """
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sign = -1.0 if directions[score_index] == "maximize" else 1.0
    evaluators = {
        "fANOVA": (lambda s: FanovaImportanceEvaluator(seed=s), lambda t: t.values[score_index]),
        "PED-ANOVA": (lambda s: PedAnovaImportanceEvaluator(), lambda t: sign * t.values[score_index]),
    }
    rng = np.random.default_rng(seed)
    samples = [list(range(len(trials)))] + [rng.integers(0, len(trials), len(trials)).tolist() for _ in range(n_boot)]
    out: dict[str, dict[str, dict[str, float]]] = {}
    notes = []
    for name, (make, target) in evaluators.items():
        runs: list[dict[str, float]] = []
        for b, idx in enumerate(samples):
            study = optuna.create_study(directions=list(directions))
            study.add_trials([trials[i] for i in idx])
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # PED-ANOVA's reminder that it minimises `target`
                    runs.append(optuna.importance.get_param_importances(study, evaluator=make(seed + b), target=target))
            except (RuntimeError, ValueError) as err:
                if b == 0:
                    notes.append(f"{name}: {err}")
                    break
        if not runs:
            continue
        genes = sorted({g for r in runs for g in r})
        table = {}
        for g in genes:
            values = np.array([r.get(g, 0.0) for r in runs[1:]]) if len(runs) > 1 else np.array([runs[0].get(g, 0.0)])
            table[g] = {"value": float(runs[0].get(g, 0.0)), "mean": float(values.mean()),
                        "p05": float(np.percentile(values, 5)), "p95": float(np.percentile(values, 95))}
        out[name] = dict(sorted(table.items(), key=lambda kv: -kv[1]["value"]))
    return out, "; ".join(notes)
