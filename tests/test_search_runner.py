"""The search runner: budgets through Optuna's constraint API, failing trials, determinism, resume, the CLI."""
from __future__ import annotations

import math

import optuna
import pandas as pd
import pytest

from archspace.cli import main
from archspace.errors import ArchspaceError
from archspace.search.config import load_config
from archspace.search.constraints import constraint_names
from archspace.search.rundir import COLUMNS, RunDir
from archspace.search.runner import evaluate_genotype, open_study, search
from archspace.search.worker import work
from archspace.zoo import zoo_genotype
from searchutils import tiny_config

optuna.logging.set_verbosity(optuna.logging.WARNING)


def run_tiny(tmp_path, out="run", **over):
    cfg = load_config(tiny_config(tmp_path, **over))
    return search(cfg, tmp_path / out, quiet=True, in_process=True)


def test_infeasible_trials_are_recorded_with_their_violation_and_never_built(tmp_path):
    run, s = run_tiny(tmp_path, trials=8)
    df = run.trials()
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert len(df) == 8 and df["number"].is_unique
    bad = df[df["state"] == "INFEASIBLE"]
    ok = df[df["state"] == "COMPLETE"]
    assert len(bad) and len(ok), df[["state", "flops"]]
    assert (bad["violation"] > 0).all()
    assert (bad["flops"] > 16e6).all() and (ok["flops"] <= 16e6).all()
    assert bad["score"].isna().all() and bad["eval_flops"].isna().all()
    assert not any(run.genotype_path(i).exists() for i in bad["genotype_id"])
    assert all(run.genotype_path(i).is_file() for i in ok["genotype_id"])
    # The violation went through Optuna's constraint attribute, where constrained samplers read it
    # (one list, in constraint_names order: the form optuna-dashboard also reads).
    trials = {t.number: t for t in run.load_study().trials}
    names = constraint_names(run.config.budgets)
    for _, row in bad.iterrows():
        c = dict(zip(names, trials[row["number"]].constraints.values()))
        assert math.isclose(c["flops"], row["flops"] / 16e6 - 1) and c["flops"] > 0
    for _, row in ok.iterrows():
        assert dict(zip(names, trials[row["number"]].constraints.values()))["flops"] <= 0
        assert trials[row["number"]].user_attrs["genotype_id"] == row["genotype_id"]
    assert s["infeasible"] == len(bad) and s["complete"] == len(ok)
    # Both resolutions: the eval columns are the adapted genotype's at the data's 32 px.
    assert (ok["eval_image_size"] == 32).all() and (ok["eval_flops"] < ok["flops"]).all()


def test_a_results_genotype_builds_with_archspace_build(tmp_path, capsys):
    run, _ = run_tiny(tmp_path, trials=4, budgets={})
    gid = run.trials().query("state == 'COMPLETE'")["genotype_id"].iloc[0]
    assert main(["build", str(run.genotype_path(gid))]) == 0
    assert gid in capsys.readouterr().out


def test_the_same_config_and_seed_sample_the_same_sequence(tmp_path):
    a, _ = run_tiny(tmp_path, out="a", trials=7)
    b, _ = run_tiny(tmp_path, out="b", trials=7)
    c, _ = run_tiny(tmp_path, out="c", trials=7, seed=1)
    ids = lambda run: run.trials()["genotype_id"].tolist()  # noqa: E731
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)
    pd.testing.assert_series_equal(a.trials()["score"], b.trials()["score"])


def test_a_resumed_search_samples_what_the_uninterrupted_one_would_have(tmp_path):
    whole, _ = run_tiny(tmp_path, out="whole", trials=8)
    run_tiny(tmp_path, out="parts", trials=3)
    parts, _ = run_tiny(tmp_path, out="parts", trials=8)
    assert parts.trials()["genotype_id"].tolist() == whole.trials()["genotype_id"].tolist()


def test_a_failing_trial_is_recorded_as_fail_and_the_search_goes_on(tmp_path):
    from archspace.search.runner import load_context, prepare_run

    cfg = load_config(tiny_config(tmp_path, trials=5, budgets={}))
    run = prepare_run(cfg, tmp_path / "run")
    ctx, study = load_context(run.path, for_worker=True)
    real = ctx.evaluator

    class NaNOnOddTrials:
        """The real evaluator, except that every other call fails as a diverging training would."""

        calls = 0

        def evaluate(self, *args, **kwargs):
            NaNOnOddTrials.calls += 1
            if NaNOnOddTrials.calls % 2 == 0:
                raise ArchspaceError("train: NaN loss at epoch 2")
            return real.evaluate(*args, **kwargs)

    ctx.evaluator = NaNOnOddTrials()
    assert work(ctx, study, 5) == 5
    from archspace.search.runner import export_trials

    df = export_trials(run, study.get_trials())
    assert len(df) == 5
    failed = df[df["state"] == "FAIL"]
    assert len(failed) == 2 and (failed["error"] == "train: NaN loss at epoch 2").all()
    assert (df[df["state"] == "COMPLETE"]["score"].notna()).all()


def test_a_second_search_on_a_busy_run_folder_stops_at_once(tmp_path):
    import fcntl

    cfg = load_config(tiny_config(tmp_path, trials=2))
    search(cfg, tmp_path / "run", quiet=True, in_process=True)
    with open(tmp_path / "run" / ".run.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        with pytest.raises(ArchspaceError, match="another archspace search is running"):
            search(cfg.model_copy(update={"trials": 3}), tmp_path / "run", quiet=True, in_process=True)


def test_a_different_search_on_the_same_folder_is_refused(tmp_path):
    cfg = load_config(tiny_config(tmp_path, trials=2))
    search(cfg, tmp_path / "run", quiet=True, in_process=True)
    with pytest.raises(ArchspaceError, match=r"holds a different search \(seed"):
        search(cfg.model_copy(update={"seed": 5}), tmp_path / "run", quiet=True, in_process=True)


def test_a_published_model_is_evaluated_under_the_runs_protocol(tmp_path):
    run, _ = run_tiny(tmp_path, trials=1)
    r = evaluate_genotype(RunDir(run.path), zoo_genotype("u_dwconv_micro"))
    assert r["eval_image_size"] == 32 and r["flops"] > r["eval_flops"] > 0
    assert math.isfinite(r["score"]) and r["violation"] > 0  # 224 px u_dwconv_micro is far over 16M FLOPs


def test_study_objectives_follow_the_config(tmp_path):
    run, _ = run_tiny(tmp_path, trials=1)
    study = open_study(run, run.config)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]


def test_seed_with_enqueues_a_genotype_file_as_the_first_trial(tmp_path):
    first, _ = run_tiny(tmp_path, out="first", trials=3, budgets={})
    gid = first.trials()["genotype_id"].iloc[-1]
    seeded, _ = run_tiny(tmp_path, out="seeded", trials=2, seed_with=[str(first.genotype_path(gid))])
    assert seeded.trials()["genotype_id"].iloc[0] == gid
    assert seeded.load_study().trials[0].user_attrs["seeded_from"] == str(first.genotype_path(gid))


def test_any_storage_url_works_and_resumes(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    cfg = load_config(tiny_config(tmp_path, trials=2))
    run, _ = search(cfg, tmp_path / "run", storage=url, quiet=True, in_process=True)
    assert run.meta["storage"] == url and not (tmp_path / "run" / "study.journal").exists()
    run, _ = search(cfg.model_copy(update={"trials": 3}), tmp_path / "run", quiet=True, in_process=True)
    assert len(optuna.load_study(study_name="tiny", storage=url).trials) == 3
    assert run.trials()["number"].tolist() == [0, 1, 2]


def test_resuming_after_editing_the_space_file_is_refused(tmp_path):
    cfg = load_config(tiny_config(tmp_path, trials=2))
    search(cfg, tmp_path / "run", quiet=True, in_process=True)
    space = tmp_path / "tiny.yaml"
    space.write_text(space.read_text().replace("{depth: {int: [1, 2]}}", "{depth: {int: [6, 9]}}"))
    with pytest.raises(ArchspaceError, match=r"holds a different search \(space: .*tiny.yaml changed since the run began") as err:
        search(cfg.model_copy(update={"trials": 3}), tmp_path / "run", quiet=True, in_process=True)
    assert "\n" not in str(err.value)
    assert len(RunDir(tmp_path / "run").trials()) == 2


def test_a_second_folder_on_a_shared_study_must_bring_the_same_space(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    cfg = load_config(tiny_config(tmp_path, trials=2))
    search(cfg, tmp_path / "a", storage=url, quiet=True, in_process=True)
    space = tmp_path / "tiny.yaml"
    space.write_text(space.read_text().replace("{depth: {int: [1, 2]}}", "{depth: {int: [6, 9]}}"))
    with pytest.raises(ArchspaceError, match="was begun on another space"):
        search(cfg.model_copy(update={"trials": 3}), tmp_path / "b", storage=url, quiet=True, in_process=True)
