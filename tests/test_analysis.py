"""EDFs, RegNet-style FLOPs normalisation and findings on tables with a known answer."""
import numpy as np
import pandas as pd
import pytest
from reportutils import make_run

from archspace.analysis import analyze_table, complexity_weights, default_bins, edf, membership_columns, weighted_mean


def test_edf_hand_case():
    grid, f = edf([0.1, 0.2, 0.2, 0.4], grid=[0.0, 0.1, 0.2, 0.3, 0.5])
    assert f.tolist() == [0.0, 0.25, 0.75, 0.75, 1.0]
    _, fw = edf([0.1, 0.2, 0.4], weights=[2, 1, 1], grid=[0.1, 0.2, 0.4])
    assert fw.tolist() == [0.5, 0.75, 1.0]


def test_normalisation_removes_a_pure_complexity_effect():
    # error depends on FLOPs only (0.5 below 5e8, 0.2 above); group A has most models in the big bin, B in the small
    flops = np.r_[np.full(10, 1e8), np.full(30, 1e9), np.full(30, 1e8), np.full(10, 1e9)]
    group = np.r_[["A"] * 40, ["B"] * 40]
    err = np.where(flops < 5e8, 0.5, 0.2)
    assert err[group == "A"].mean() == pytest.approx(0.275) and err[group == "B"].mean() == pytest.approx(0.425)
    w = complexity_weights(flops, group, n_bins=2)
    for g in "AB":
        m = group == g
        assert w[m].sum() == pytest.approx(1.0)
        assert weighted_mean(err[m], w[m]) == pytest.approx(0.35)


def test_bins_one_group_lacks_get_no_weight():
    flops = np.array([1e8, 1e8, 1e9, 1e9, 1e8, 1e8])
    group = np.array(["A", "A", "A", "A", "B", "B"])
    w = complexity_weights(flops, group, n_bins=2)
    assert w.tolist() == [0.5, 0.5, 0.0, 0.0, 0.5, 0.5]


def test_default_bins_need_two_models_per_group_per_bin():
    assert default_bins(7, 2) == 1
    assert default_bins(8, 2) == 2
    assert default_bins(200, 2) == 8


def test_membership_columns_of_a_set_gene():
    cols = membership_columns(pd.Series(["[3, 9, 13]", "[3, 5]", None]))
    assert set(cols) == {"5", "9", "13"}  # every set holds 3: no comparison
    assert cols["13"].tolist()[:2] == ["contains 13", "lacks 13"] and pd.isna(cols["13"].iloc[2])


def test_findings_on_a_run_with_known_effects(tmp_path):
    trials = pd.read_csv(make_run(tmp_path / "run", n=120) / "trials.csv")
    feasible = trials[trials["state"] == "COMPLETE"].reset_index(drop=True)
    genes, findings, err_name, unit, scale = analyze_table(feasible, accuracy=True)
    assert err_name == "top-1 error" and scale == 100.0
    by = {(f.gene, f.value): f for f in findings}
    kind = by[("stages[0].mixer.kind", "= scsc")]  # +5 points at equal FLOPs
    assert kind.normalized_delta == pytest.approx(-0.05, abs=0.015) and kind.ci_high < 0
    assert "lowers the mean top-1 error, FLOPs-normalised over" in kind.text
    k13 = by[("stages[0].mixer.kernels", "containing 13")]  # +3 points at equal FLOPs
    assert k13.normalized_delta == pytest.approx(-0.03, abs=0.015) and k13.ci_high < 0
    wide = by[("stages[0].channels", "= 64")]  # only adds FLOPs: the raw gain mostly goes away once normalised
    assert wide.raw_delta < -0.05 and abs(wide.normalized_delta) < 0.5 * abs(wide.raw_delta)
    ratio = next(f for f in findings if f.gene == "stages[0].mixer.ratio")  # no effect
    assert ratio.ci_low < 0 < ratio.ci_high and "no reliable effect" in ratio.text
    kinds = next(g for g in genes if g.gene == "stages[0].mixer.kind")
    assert sum(g.n for g in kinds.groups) == len(feasible)
