"""Multi-objective pruning: Optuna's Trial.report refuses several objectives, so the score's median rule does it."""
from __future__ import annotations

import optuna
import pytest

from archspace.search.pruning import CURVE_ATTR, median_stop, multi_objective_reporter


def _study(curves):
    study = optuna.create_study(directions=["maximize", "minimize"], storage=optuna.storages.InMemoryStorage())
    for curve in curves:
        t = study.ask()
        t.set_user_attr(CURVE_ATTR, {str(k): v for k, v in curve.items()})
        study.tell(t, [curve[max(curve)], 1.0])
    return study


def test_optuna_refuses_report_in_multi_objective_studies():
    study = _study([])
    with pytest.raises(NotImplementedError):
        study.ask().report(0.5, 1)


def test_median_rule_over_completed_trials_at_the_same_epoch():
    study = _study([{0: 0.1, 1: s, 2: s + 0.1} for s in (0.2, 0.3, 0.4, 0.5, 0.6)])
    assert median_stop(study, 1, 0.35).startswith("pruned at epoch 1: score 0.35 below the median 0.4 of 5")
    assert median_stop(study, 1, 0.45) is None
    assert median_stop(study, 0, 0.0) is None          # warm-up epoch
    assert median_stop(study, 3, 0.0) is None          # no completed trial reported epoch 3
    assert median_stop(_study([{1: 0.9}] * 4), 1, 0.1) is None  # fewer than 5 completed trials


def test_reporter_keeps_the_curve_and_prunes():
    study = _study([{1: s} for s in (0.2, 0.3, 0.4, 0.5, 0.6)])
    trial = study.ask()
    report = multi_objective_reporter(trial, prune=True)
    report(0, 0.05)
    with pytest.raises(optuna.TrialPruned, match="median 0.4"):
        report(1, 0.1)
    assert study.trials[-1].user_attrs[CURVE_ATTR] == {"0": 0.05, "1": 0.1}
    multi_objective_reporter(study.ask(), prune=False)(1, 0.1)  # pruner: none never stops
