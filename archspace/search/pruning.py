"""Early stopping for multi-objective searches, where Optuna's `Trial.report` raises NotImplementedError.

Every epoch's score of a training trial is kept in its user attr `curve` ({"<epoch>": score}). With
`pruner: median` (or `hyperband`, which has no multi-objective form) a multi-objective trial stops
when its score at an epoch is below the median score at that same epoch of the completed trials:
Optuna's MedianPruner rule (Golovin et al., 2017, "Google Vizier", median stopping rule) over the
score only, with the same startup (5 completed trials) and warm-up (epoch >= 1).
"""
from __future__ import annotations

import statistics

import optuna
from optuna.trial import TrialState

CURVE_ATTR = "curve"
STARTUP_TRIALS = 5
WARMUP_STEPS = 1


def median_stop(study: optuna.Study, step: int, value: float,
                startup: int = STARTUP_TRIALS, warmup: int = WARMUP_STEPS) -> str | None:
    """The reason to stop a trial whose score at `step` is `value`, or None to go on."""
    if step < warmup:
        return None
    key = str(step)
    seen = [float(t.user_attrs[CURVE_ATTR][key]) for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if key in (t.user_attrs.get(CURVE_ATTR) or {})]
    if len(seen) < startup:
        return None
    median = statistics.median(seen)
    if value < median:
        return f"pruned at epoch {step}: score {value:.4g} below the median {median:.4g} of {len(seen)} completed trials"
    return None


def multi_objective_reporter(trial: optuna.Trial, prune: bool):
    """`report(step, value)` for a multi-objective trial: keeps the curve, applies `median_stop` when `prune`."""
    curve: dict[str, float] = {}

    def report(step: int, value: float) -> None:
        trial.set_user_attr("step", int(step))
        curve[str(int(step))] = float(value)
        trial.set_user_attr(CURVE_ATTR, dict(curve))
        if prune and (reason := median_stop(trial.study, int(step), float(value))):
            raise optuna.TrialPruned(reason)

    return report
