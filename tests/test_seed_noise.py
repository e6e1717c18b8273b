"""`archspace pareto --seeds K`: the noise rule on hand-made points, the wording without a noise estimate, the
pareto.json fields and the seed cache on a synthetic run (evaluations faked), and a tiny real run end to end."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reportutils import make_run
from searchutils import tiny_config

from archspace.cli import main
from archspace.pareto import (DOMINATED, NOT_DOMINATED, UNCHECKED, WITHIN_NOISE, Objective, dominates, dominates_beyond_noise,
                              noise_verdict, seed_stats)
from archspace.search import published

MIN, MAX = "minimize", "maximize"
SCORE_FLOPS = [Objective("score", MAX), Objective("flops", MIN)]
PUBLISHED = "u_dwconv_micro"


def test_seed_stats_mean_and_sample_std():
    mean, std = seed_stats([0.70, 0.74, 0.72])
    assert mean == pytest.approx(0.72) and std == pytest.approx(0.02)  # ddof 1: sqrt((0.02^2 + 0.02^2) / 2)
    assert seed_stats([0.7]) == (0.7, None)


def test_the_margin_rule_on_hand_made_points():
    a, b = (0.80, 1.0), (0.70, 2.0)
    # margin 2 * sqrt(0.02^2 + 0.02^2) = 0.057 < gain 0.10: dominated beyond the noise
    assert dominates_beyond_noise(a, b, (0.02, 0), (0.02, 0), SCORE_FLOPS)
    # margin 2 * sqrt(0.05^2 + 0.05^2) = 0.141 > gain 0.10: within the noise, though `a` dominates on the means
    assert not dominates_beyond_noise(a, b, (0.05, 0), (0.05, 0), SCORE_FLOPS) and dominates(a, b, SCORE_FLOPS)
    # a smaller z moves the line: 1 * 0.0707 < 0.10
    assert dominates_beyond_noise(a, b, (0.05, 0), (0.05, 0), SCORE_FLOPS, z=1.0)
    # a gain exactly at the margin is not beyond it (0.25 = 2 * sqrt(0.125^2 + 0), all exact in binary)
    assert not dominates_beyond_noise((0.75, 1.0), (0.5, 2.0), (0.125, 0), (0.0, 0), SCORE_FLOPS)
    # a higher cost is never dominance, whatever the score
    assert not dominates_beyond_noise((0.99, 2.5), b, (0.001, 0), (0.001, 0), SCORE_FLOPS)
    # with no noise it is plain dominance: equal score at lower cost dominates
    assert dominates_beyond_noise((0.70, 1.0), b, (0, 0), (0, 0), SCORE_FLOPS)
    assert not dominates_beyond_noise(b, b, (0, 0), (0, 0), SCORE_FLOPS)


def test_noise_verdicts():
    front = [(0.80, 1.0), (0.72, 0.5)]
    point = (0.70, 2.0)
    assert noise_verdict(point, (0.02, 0), front, [(0.02, 0), (0.02, 0)], SCORE_FLOPS) == (DOMINATED, [0])
    assert noise_verdict(point, (0.05, 0), front, [(0.05, 0), (0.05, 0)], SCORE_FLOPS) == (WITHIN_NOISE, [0, 1])
    assert noise_verdict((0.9, 2.0), (0.01, 0), front, [(0.01, 0), (0.01, 0)], SCORE_FLOPS) == (NOT_DOMINATED, [])
    # no noise estimate: a dominated point is reported as unchecked, never silently as dominated
    assert noise_verdict(point, None, front, None, SCORE_FLOPS) == (UNCHECKED, [0, 1])
    assert noise_verdict((0.9, 2.0), None, front, None, SCORE_FLOPS) == (NOT_DOMINATED, [])


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run", n=30, evaluator="proxy")


@pytest.fixture
def fake(run: Path, monkeypatch) -> list:
    """Fake evaluations: the published model scores best - 0.5 at the run's seed and best - 0.4 at seed 1; every front
    genotype (the synthetic run has one) scores the best front score at seed 1. Returns the calls (name, seed)."""
    trials = pd.read_csv(run / "trials.csv")
    best = float(trials.loc[trials["state"] == "COMPLETE", "score"].max())
    calls = []

    def evaluate(run_dir, genotype, seed=None, report=None):
        calls.append((genotype.name, seed))
        if genotype.name == PUBLISHED:
            return {"name": PUBLISHED, "score": best - (0.4 if seed == 1 else 0.5), "flops": 1e12, "params": 1e6}
        return {"name": genotype.name, "score": best, "flops": 1.0, "params": 1.0}

    monkeypatch.setattr(published, "evaluate_genotype", evaluate)
    return calls


def _pareto(run: Path, capsys, *extra: str) -> tuple[dict, str]:
    assert main(["pareto", str(run), "--against", PUBLISHED, *extra]) == 0
    text = capsys.readouterr().out
    return json.loads((run / "pareto.json").read_text()), text


def test_one_seed_says_no_noise_was_measured(run, fake, capsys):
    out, text = _pareto(run, capsys)
    assert "is dominated (no seed noise measured; --seeds 3 to check) by trial(s)" in text
    assert out["seeds"] == 1 and "no seed noise measured" in out["noise_rule"]["rule"]
    pub = out["published"][0]
    assert pub["dominated"] and pub["verdict"] == UNCHECKED and pub["score_std"] is None
    assert all(r["score_mean"] == r["score"] and r["score_std"] is None and r["score_seeds"] == [r["score"]] for r in out["front"])
    assert out["dominated"][0]["verdict"] == "dominated (no seed noise measured; --seeds 3 to check)"
    assert fake == [(PUBLISHED, None)]  # one seed: nothing evaluated beyond the published model's row


def test_two_seeds_store_mean_and_std_and_apply_the_margin(run, fake, capsys):
    out, text = _pareto(run, capsys, "--seeds", "2")
    assert out["seeds"] == 2 and out["noise_rule"]["z"] == 2.0
    for r in out["front"]:
        assert r["score_seeds"] == [r["score"], pytest.approx(max(f["score"] for f in out["front"]))]
        assert r["score_mean"] == pytest.approx(np.mean(r["score_seeds"])) and r["score_std"] == pytest.approx(np.std(r["score_seeds"], ddof=1))
    pub = out["published"][0]
    assert pub["score_seeds"] == [pytest.approx(pub["score"]), pytest.approx(pub["score"] + 0.1)]
    assert pub["score_std"] == pytest.approx(0.1 / np.sqrt(2))
    # the best front point gains 0.45 on the means; margin 2 * 0.0707 = 0.14: dominated beyond the noise
    assert pub["verdict"] == DOMINATED and out["dominated"][0]["gained"]["score"]["gain"] == pytest.approx(0.45)
    assert "is dominated (2 seeds; margin 2 x sqrt(std_a^2 + std_b^2)) by trial(s)" in text
    assert sorted(fake, key=str) == sorted([(PUBLISHED, None), (PUBLISHED, 1), ("transxnet_t", 1)], key=str)  # one genotype, one replica

    # the seed replicas are cached in the run under the protocol and seed: a wider margin re-decides, evaluating nothing
    fake.clear()
    out, text = _pareto(run, capsys, "--seeds", "2", "--noise-z", "20")
    assert fake == [] and (run / "seeds.json").is_file()
    pub = out["published"][0]
    assert pub["verdict"] == WITHIN_NOISE and not pub["dominated"] and out["dominated"] == []
    w = out["within_noise"][0]
    assert w["score_gain"] == pytest.approx(0.45) and w["margin"] == pytest.approx(20 * 0.1 / np.sqrt(2))
    assert "u_dwconv_micro is within noise (2 seeds" in text

    assert main(["report", str(run), "--against", PUBLISHED, "--seeds", "2", "--noise-z", "20", "--bootstrap", "2"]) == 0
    md = (run / "report.md").read_text()
    assert "score mean ± std (2 seeds)" in md and "| within noise (2 seeds; margin 20 x sqrt(std_a^2 + std_b^2)) |" in md
    assert fake == []


def test_bad_seed_arguments_are_one_line(run, capsys):
    assert main(["pareto", str(run), "--seeds", "0"]) == 2
    assert "--seeds: must be 1 or more, got 0" in capsys.readouterr().err
    assert main(["pareto", str(run), "--noise-z", "-1"]) == 2
    assert "--noise-z: must be 0 or more" in capsys.readouterr().err


@pytest.mark.slow
def test_pareto_with_two_seeds_on_a_tiny_run_draws_error_bars(tmp_path, capsys):
    config = tiny_config(tmp_path, trials=4)
    run = tmp_path / "run"
    assert main(["search", str(config), "--out", str(run)]) == 0
    capsys.readouterr()
    out, _ = _pareto(run, capsys, "--seeds", "2", "--json")
    points = out["front"] + out["published"]
    assert out["front"] and out["published"]
    for p in points:
        assert len(p["score_seeds"]) == 2 and p["score_seeds"][0] == pytest.approx(p["score"])
        assert p["score_std"] == pytest.approx(np.std(p["score_seeds"], ddof=1))
    assert any(p["score_std"] > 0 for p in points), "synflow of a seeded initialisation changes with the seed"
    assert out["published"][0]["verdict"] in (DOMINATED, WITHIN_NOISE, NOT_DOMINATED)
    html = (run / "front.html").read_text()
    assert '"error_y"' in html and "front: mean score ± seed std" in html and "published: mean score ± seed std" in html
    keys = json.loads((run / "seeds.json").read_text())
    assert all(k.endswith(":1") for entry in keys.values() for k in entry)  # replica 1 at seed cfg.seed + 1 = 1
