"""archspace.search.evaluate_many: published models and seed replicas on worker processes (`report/pareto --workers N`)
give the rows one process gives, cached as each finishes; a bad worker count is one line."""
import json
import shutil

import pytest
from searchutils import tiny_config

from archspace.cli import main
from archspace.errors import ArchspaceError
from archspace.search import published
from archspace.search.evaluate_many import Evaluation, check_workers, evaluate_many
from archspace.search.rundir import RunDir
from archspace.zoo import zoo_genotype

PUBLISHED = "u_dwconv_micro"


@pytest.mark.parametrize("workers", [0, -2])
def test_a_worker_count_below_one_is_one_line(workers):
    with pytest.raises(ArchspaceError, match=f"--workers: must be 1 or more, got {workers}") as err:
        check_workers(workers)
    assert "\n" not in str(err.value)


def test_more_workers_than_cores_are_capped_and_said(capsys):
    import os

    cores = len(os.sched_getaffinity(0))
    assert check_workers(cores + 3) == cores
    assert f"workers: {cores + 3} capped at {cores}" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("many")
    run = tmp / "run"
    assert main(["search", str(tiny_config(tmp, trials=4)), "--out", str(run), "--quiet"]) == 0
    return run


def test_the_cli_refuses_zero_workers_before_evaluating_anything(tiny_run, capsys):
    assert main(["pareto", str(tiny_run), "--against", PUBLISHED, "--workers", "0"]) == 2
    assert "--workers: must be 1 or more, got 0" in capsys.readouterr().err
    assert not (tiny_run / "published.json").exists()


def test_in_process_evaluations_come_in_order_with_a_line_as_each_starts_and_ends(tiny_run, monkeypatch):
    monkeypatch.setattr(published, "evaluate_genotype", lambda run, genotype, seed=None, report=None: {"score": 0.25 + (seed or 0)})
    lines: list[str] = []
    g = zoo_genotype(PUBLISHED)
    out = list(evaluate_many(published.evaluate_genotype, RunDir(tiny_run), [Evaluation("a", g), Evaluation("b", g, 2)], 1, lines.append))
    assert out == [(0, {"score": 0.25}), (1, {"score": 2.25})]
    assert lines[0] == "evaluating a under the run's protocol" and lines[1].startswith("a: score 0.25 after ")
    assert lines[3].startswith("b: score 2.25 after ") and lines[3].endswith("s (cached in the run)")


def test_an_evaluation_that_cannot_be_made_is_a_row_with_its_error(tiny_run, monkeypatch):
    def refuse(run, genotype, seed=None, report=None):
        raise ArchspaceError("data: no such task")

    monkeypatch.setattr(published, "evaluate_genotype", refuse)
    assert list(evaluate_many(published.evaluate_genotype, RunDir(tiny_run), [Evaluation("a", zoo_genotype(PUBLISHED))])) == [(0, {"error": "data: no such task"})]


@pytest.mark.slow
def test_two_workers_give_the_rows_one_process_gives(tiny_run, tmp_path, capsys):
    """Real evaluations (synflow on digits) of a published model and the front's seed replicas, on two spawned worker
    processes and then in this process, from a copy of the same run: the same rows, cached the same way."""
    one, two = tmp_path / "one", tmp_path / "two"
    for copy in (one, two):
        shutil.copytree(tiny_run, copy)
        for f in ("published.json", "seeds.json"):
            (copy / f).unlink(missing_ok=True)
    assert main(["pareto", str(two), "--against", PUBLISHED, "--seeds", "3", "--workers", "2", "--json"]) == 0
    err = capsys.readouterr().err
    assert f"evaluating {PUBLISHED} at seed 2 under the run's protocol" in err and "(cached in the run)" in err
    assert main(["pareto", str(one), "--against", PUBLISHED, "--seeds", "3", "--workers", "1", "--json"]) == 0
    capsys.readouterr()
    for f in ("published.json", "seeds.json"):
        a, b = json.loads((one / f).read_text()), json.loads((two / f).read_text())
        assert a.keys() == b.keys()
        assert json.dumps(a, sort_keys=True).count('"score"') == json.dumps(b, sort_keys=True).count('"score"') > 0
    pa, pb = json.loads((one / "pareto.json").read_text()), json.loads((two / "pareto.json").read_text())
    for x, y in zip(pa["front"] + pa["published"], pb["front"] + pb["published"]):
        assert len(x["score_seeds"]) == 3 and x["score_seeds"] == pytest.approx(y["score_seeds"], rel=1e-4)
    # everything is cached now: a third call with workers evaluates nothing
    assert main(["pareto", str(two), "--against", PUBLISHED, "--seeds", "3", "--workers", "2", "--json"]) == 0
    assert "evaluating" not in capsys.readouterr().err


def test_a_report_evaluates_model_by_model_with_each_models_seeds_together(tiny_run, monkeypatch):
    """One pool for the published rows and every replica, a model's seeds side by side (a long published model no longer
    runs its last seeds alone after the others); what is cached is not evaluated again."""
    from archspace.search import seeds

    calls = []
    monkeypatch.setattr(published, "evaluate_genotype", lambda run, genotype, seed=None, report=None: calls.append((genotype.name, seed)) or {"score": 0.5})
    run = RunDir(tiny_run)
    for f in ("published.json", "seeds.json"):
        (tiny_run / f).unlink(missing_ok=True)
    models = [(PUBLISHED, zoo_genotype(PUBLISHED)), ("u_swin_micro", zoo_genotype("u_swin_micro"))]
    front = [("trial 0", zoo_genotype("u_halonet_micro"))]
    seeds.evaluate_missing(run, models, front, 3, 1)
    assert calls == [(PUBLISHED, None), (PUBLISHED, 1), (PUBLISHED, 2), ("u_swin_micro", None), ("u_swin_micro", 1),
                     ("u_swin_micro", 2), ("u_halonet_micro", 1), ("u_halonet_micro", 2)]
    calls.clear()
    assert published.measure(run, models) == [{"score": 0.5}] * 2 and len(seeds.replicate(run, models + front, 3)[2]) == 2
    assert calls == []
    for f in ("published.json", "seeds.json"):
        (tiny_run / f).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained")
    cfg = tiny_config(tmp, trials=2, evaluator={"kind": "train", "epochs": 2, "batch_size": 16})
    assert main(["search", str(cfg), "--out", str(tmp / "run"), "--quiet"]) == 0
    return tmp / "run"


def _trained_genotype(run):
    from archspace import load_genotype

    return load_genotype(next((run / "genotypes").glob("*.json")))


def test_a_training_says_each_epochs_accuracy_as_it_goes(trained_run):
    """A published model can train for hours on one core: each epoch is a progress line, from the real evaluator."""
    lines: list[str] = []
    g = _trained_genotype(trained_run)
    [(_, row)] = evaluate_many(published.evaluate_genotype, RunDir(trained_run), [Evaluation("m", g, 5)], 1, lines.append)
    assert [line.split(",")[0] for line in lines[1:3]] == ["m: epoch 1/2", "m: epoch 2/2"]
    assert lines[2].split(", ")[1] == f"validation accuracy {row['score']:.3f}"  # the last epoch's is the score


@pytest.mark.slow
def test_worker_processes_say_each_epoch_on_their_stderr(trained_run, capfd):
    g = _trained_genotype(trained_run)
    todo = [Evaluation("m", g, 5), Evaluation("n", g, 6)]
    rows = dict(evaluate_many(published.evaluate_genotype, RunDir(trained_run), todo, 2, lambda line: None))
    err = capfd.readouterr().err
    for label, i in (("m", 0), ("n", 1)):
        assert f"{label}: epoch 1/2, validation accuracy " in err
        assert f"{label}: epoch 2/2, validation accuracy {rows[i]['score']:.3f}" in err
