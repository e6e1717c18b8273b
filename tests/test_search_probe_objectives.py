"""Probe figures (FGSM accuracy, ERF@50, invariance) as search objectives, on the evaluator's data and model."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from archspace.errors import ArchspaceError
from archspace.evaluate.data import load_data
from archspace.evaluate.evaluator import make_evaluator
from archspace.evaluate.probe_objectives import validation_pixels
from archspace.search.config import config_from_dict, load_config

ROOT = Path(__file__).resolve().parents[1]


def _cfg(objectives, **over):
    data = {"name": "t", "space": str(ROOT / "search_spaces/hybrid.yaml"), "objectives": objectives, **over}
    return config_from_dict(data)


def test_objective_syntax_adds_the_metric_to_the_evaluator():
    cfg = _cfg(["score", {"name": "fgsm_acc@2/255"}, "flops"])
    assert [(o.name, o.direction) for o in cfg.objectives] == [("score", "maximize"), ("fgsm_acc@2/255", "maximize"), ("flops", "minimize")]
    assert cfg.evaluator["metrics"] == ["fgsm_acc@2/255"]
    make_evaluator(cfg.evaluator)  # the evaluator accepts it


def test_objective_errors_are_one_line():
    with pytest.raises(ArchspaceError, match=r"objectives\[1\]\.name: 'fgsm@2' is not one of.*unknown metric"):
        _cfg(["score", "fgsm@2"])
    with pytest.raises(ArchspaceError, match="no better side"):
        _cfg(["score", "erf50"])
    assert _cfg(["score", {"name": "erf50", "direction": "minimize"}]).objectives[1].direction == "minimize"


def test_validation_pixels_undo_the_data_normalisation():
    bundle = load_data({"name": "digits", "image_size": 16, "max_val": 20})
    images, labels = validation_pixels(bundle, 20)
    assert images.shape == (20, 1, 16, 16) and labels.shape == (20,)
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert float(images.min()) < 0.05 and float(images.max()) > 0.5  # digits are ink on a zero background


@pytest.mark.slow
def test_evaluator_computes_fgsm_and_eps_zero_is_clean_accuracy():
    from archspace.genotype.adapt import adapt
    from archspace.zoo import zoo_genotype

    bundle = load_data({"name": "digits", "image_size": 32, "max_train": 32, "max_val": 24})
    g = adapt(zoo_genotype("u_dwconv_micro"), 32, 1, 10)
    ev = make_evaluator({"kind": "proxy", "proxy": "synflow", "batch_size": 8, "metrics": ["clean_acc", "fgsm_acc@0/255", "fgsm_acc@8/255"]})
    r = ev.evaluate(g, bundle, seed=0)
    assert r["fgsm_acc@0/255"] == r["clean_acc"]
    assert 0.0 <= r["fgsm_acc@8/255"] <= 1.0


@pytest.mark.slow
def test_robust_quickstart_search_records_the_objective(tmp_path):
    import pandas as pd

    from archspace.reporting.front import front_report
    from archspace.search.rundir import RunDir
    from archspace.search.runner import search

    raw = yaml.safe_load((ROOT / "searches/robust_quickstart.yaml").read_text())
    raw.update(trials=4, sampler={"kind": "random"})
    raw["data"]["max_val"] = 32
    raw["data"]["max_train"] = 64
    raw["space"] = str(ROOT / "search_spaces/hybrid.yaml")
    cfg = config_from_dict(raw)
    search(cfg, tmp_path / "run", quiet=True, in_process=True)
    run = RunDir(tmp_path / "run")
    assert ("fgsm_acc@2/255", "maximize") in [tuple(o) for o in run.objectives]
    df = run.trials()
    done = df[df["state"] == "COMPLETE"]
    assert len(done) >= 1
    values = pd.to_numeric(done["fgsm_acc@2/255"])
    assert values.between(0, 1).all()
    assert (values == pd.to_numeric(done["eval:fgsm_acc@2/255"])).all()
    study = run.load_study()
    for t in study.trials:
        if t.state.name == "COMPLETE" and t.user_attrs.get("violation", 0) == 0:
            assert t.values[1] == t.user_attrs["objective:fgsm_acc@2/255"]
    report = front_report(run)
    assert report["counts"]["total"] == len(df)


def test_shipped_robust_quickstart_loads():
    cfg = load_config(ROOT / "searches/robust_quickstart.yaml")
    assert [o.name for o in cfg.objectives] == ["score", "fgsm_acc@2/255", "flops"]
