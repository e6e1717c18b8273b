"""Non-dominated sorting, hypervolume, reference point, knee and dominance gains against hand-computed cases."""
import numpy as np
import pandas as pd
import pytest

from archspace.errors import ArchspaceError
from archspace.pareto import (
    Objective,
    dominance_gains,
    dominates,
    hypervolume,
    knee_index,
    objectives_from,
    pareto_ranks,
    reference_point,
    split_trials,
)

MIN, MAX = "minimize", "maximize"


def objs(*directions):
    return [Objective(f"o{i}", d) for i, d in enumerate(directions)]


def test_ranks_min_min_with_duplicates():
    pts = [(1, 5), (2, 3), (3, 4), (4, 1), (2, 3), (5, 5)]
    # (3,4) is dominated by (2,3); (5,5) by (3,4) too, so it is one layer further out; equal points share a rank
    assert pareto_ranks(pts, objs(MIN, MIN)).tolist() == [0, 0, 1, 0, 0, 2]


def test_ranks_mixed_directions():
    # score maximised, FLOPs minimised
    pts = [(0.9, 2.0), (0.8, 1.0), (0.85, 3.0), (0.7, 1.0)]
    assert pareto_ranks(pts, objs(MAX, MIN)).tolist() == [0, 0, 1, 1]
    # the same points with both minimised: (0.7, 1.0) alone is best
    assert pareto_ranks(pts, objs(MIN, MIN)).tolist() == [2, 1, 2, 0]


def test_ranks_three_objectives_mixed():
    pts = [(1, 1, 1), (1, 1, 0), (0, 0, 0)]
    assert pareto_ranks(pts, objs(MAX, MIN, MAX)).tolist() == [0, 1, 0]
    assert dominates(pts[0], pts[1], objs(MAX, MIN, MAX))
    assert not dominates(pts[0], pts[0], objs(MAX, MIN, MAX))


def test_hypervolume_2d_min_min():
    assert hypervolume([(1, 2), (2, 1)], objs(MIN, MIN), (3, 3)) == pytest.approx(3.0)
    # a dominated point and a point beyond the reference add nothing
    assert hypervolume([(1, 2), (2, 1), (2.5, 2.5), (4, 0)], objs(MIN, MIN), (3, 3)) == pytest.approx(3.0)


def test_hypervolume_2d_mixed():
    # boxes [0, 0.9] x [1, 2] (0.9) and [0, 0.8] x [0.5, 2] (1.2) overlap in [0, 0.8] x [1, 2] (0.8)
    assert hypervolume([(0.9, 1.0), (0.8, 0.5)], objs(MAX, MIN), (0.0, 2.0)) == pytest.approx(1.3)


def test_hypervolume_3d():
    # boxes 2*2*1 = 4 and 1*1*2 = 2, overlapping in [2,3]^2 x [2,3] = 1
    assert hypervolume([(1, 1, 2), (2, 2, 1)], objs(MIN, MIN, MIN), (3, 3, 3)) == pytest.approx(5.0)
    # the same with the last objective maximised: flip its values about 0
    assert hypervolume([(1, 1, -2), (2, 2, -1)], objs(MIN, MIN, MAX), (3, 3, -3)) == pytest.approx(5.0)


def test_hypervolume_errors():
    with pytest.raises(ArchspaceError, match="reference point"):
        hypervolume([(1, 2)], objs(MIN, MIN), (3,))
    with pytest.raises(ArchspaceError, match="finite"):
        hypervolume([(1, np.nan)], objs(MIN, MIN), (3, 3))
    assert hypervolume(np.zeros((0, 2)), objs(MIN, MIN), (3, 3)) == 0.0


def test_reference_point_rules():
    pts = [(0.5, 1.0e9), (0.9, 2.0e9)]
    ref = reference_point(pts, [Objective("score", MAX), Objective("flops", MIN)], {"flops": 1.8e9})
    assert ref.values == pytest.approx((0.5 - 0.1 * 0.4, 1.8e9))
    assert ref.rules[1] == "budget"
    ref = reference_point(pts, [Objective("score", MAX), Objective("flops", MIN)])
    assert ref.values[1] == pytest.approx(2.0e9 + 0.1e9)


def test_knee_is_farthest_from_the_extremes_line():
    assert knee_index([(0, 10), (1, 3), (10, 0)], objs(MIN, MIN)) == 1
    # the same front mirrored into maximisation
    assert knee_index([(0, -10), (-1, -3), (-10, 0)], objs(MAX, MAX)) == 1
    assert knee_index([(0.95, 3.0), (0.9, 1.0), (0.5, 0.5)], objs(MAX, MIN)) == 1


def test_dominance_gains():
    gains = dominance_gains((0.7, 2.0), [(0.8, 2.0), (0.75, 1.0)], objs(MAX, MIN))
    assert gains["o0"]["gain"] == pytest.approx(0.1) and gains["o0"]["by_index"] == 0
    assert gains["o1"]["saved"] == pytest.approx(1.0) and gains["o1"]["by_index"] == 1
    assert gains["o1"]["saved_fraction"] == pytest.approx(0.5)


def test_split_trials_keeps_infeasible_pruned_failed_apart():
    df = pd.DataFrame({"number": range(5), "state": ["COMPLETE", "COMPLETE", "INFEASIBLE", "PRUNED", "FAIL"],
                       "violation": [0.0, 0.2, 0.5, 0.0, np.nan]})
    groups = split_trials(df)
    assert groups["feasible"]["number"].tolist() == [0]
    assert groups["INFEASIBLE"]["number"].tolist() == [1, 2]
    assert groups["PRUNED"]["number"].tolist() == [3] and groups["FAIL"]["number"].tolist() == [4]


def test_objectives_from_rejects_bad_direction():
    with pytest.raises(ArchspaceError, match="objectives.score.direction"):
        objectives_from([("score", "up")])


def test_single_objective_front_is_the_best_trial():
    o = [Objective("score", MAX)]
    assert pareto_ranks([[1], [3], [2], [3]], o).tolist() == [2, 0, 1, 0]
    assert hypervolume([[1], [3]], o, [0]) == pytest.approx(3.0)
    assert knee_index([[1], [3]], o) == 1
