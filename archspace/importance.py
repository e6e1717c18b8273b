"""Gene importance for the score of a search run's trials (Optuna's fANOVA and PED-ANOVA, with a bootstrap)."""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

IMPORTANCE_BOOTSTRAP = 20


def band(estimate: float, values: np.ndarray) -> dict[str, float]:
    """The 5-95% band of the bootstrap `values`, placed around `estimate`: the percentile band shifted by the bootstrap's
    bias (its mean minus the estimate; Efron & Tibshirani 1993, ch. 10), widened to hold the estimate and kept in [0, 1].
    A plain percentile band can miss the estimate: a resample repeats trials, which moves PED-ANOVA's top-10% cut."""
    shift = estimate - float(values.mean())
    lo, hi = float(np.percentile(values, 5)) + shift, float(np.percentile(values, 95)) + shift
    return {"p05": max(0.0, min(lo, estimate)), "p95": min(1.0, max(hi, estimate))}


def gene_importance(trials: list, directions: Sequence[str], score_index: int, seed: int = 0,
                    n_boot: int = IMPORTANCE_BOOTSTRAP) -> tuple[dict[str, dict[str, dict[str, float]]], str]:
    """Importance of each gene for the score by Optuna's fANOVA and PED-ANOVA evaluators, on the given (COMPLETE,
    feasible) Optuna trials and on `n_boot` bootstrap resamples of them: {evaluator: {gene: {value, mean, p05, p95}}}.

    fANOVA (Hutter et al. 2014) uses the genes every trial has; PED-ANOVA (Watanabe et al. 2023, conditional
    variant) also ranks conditional genes, by how much they matter to reach the top 10% of scores. A gene an evaluator
    does not rank on all trials is absent from its table; each band holds its estimate (`band`).
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
        table = {}
        for g, estimate in runs[0].items():  # a gene the evaluator does not rank on all trials is left out ("not ranked")
            values = np.array([r.get(g, 0.0) for r in runs[1:]]) if len(runs) > 1 else np.array([estimate])
            table[g] = {"value": float(estimate), "mean": float(values.mean()), **band(float(estimate), values)}
        out[name] = dict(sorted(table.items(), key=lambda kv: -kv[1]["value"]))
    return out, "; ".join(notes)
