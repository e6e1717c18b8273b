"""Search configs: defaults, amounts, one-line errors; every shipped search loads and covers every shipped space."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from archspace.cli import main
from archspace.cost.analytic import analytic_cost
from archspace.errors import ArchspaceError
from archspace.evaluate.evaluator import make_evaluator
from archspace.search.config import load_config, parse_amount
from archspace.search.space import SearchSpace
from archspace.zoo import zoo_genotype
from searchutils import tiny_config

ROOT = Path(__file__).resolve().parent.parent
SEARCHES = sorted((ROOT / "searches").glob("*.yaml"))


def write(tmp_path, text: str) -> Path:
    (tmp_path / "tiny.yaml").write_text("x: 1")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_defaults_are_filled_and_amounts_parsed(tmp_path):
    cfg = load_config(tiny_config(tmp_path))
    assert cfg.name == "tiny" and cfg.budgets.flops == 16e6 and cfg.budgets.params is None
    assert [(o.name, o.direction) for o in cfg.objectives] == [("score", "maximize"), ("flops", "minimize")]
    assert cfg.sampler.kind == "tpe" and cfg.sampler.options == {"n_startup_trials": 4}
    assert cfg.seed_with == () and cfg.workers == 1 and cfg.trial_timeout_s is None
    assert Path(cfg.space).is_absolute() and Path(cfg.space).is_file()
    assert parse_amount("1.8G") == 1.8e9 and parse_amount("25M") == 25e6 and parse_amount(3) == 3
    again = yaml.safe_load(cfg.to_yaml())
    assert again["budgets"]["flops"] == 16e6 and again["sampler"] == {"kind": "tpe", "options": {"n_startup_trials": 4}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("space: tiny.yaml\nobjectives: [score, accuracy]", r"objectives\[1\]\.name: 'accuracy' is not one of"),
        ("space: tiny.yaml\nobjectives: [score]\nbudgets: {flops: lots}", "budgets.flops: 'lots' is not a number"),
        ("space: tiny.yaml\nobjectives: [score]\ntrails: 3", "trails: unknown field"),
        ("space: nope.yaml\nobjectives: [score]", "space: nope.yaml: no such file"),
        ("space: tiny.yaml\nobjectives: [score, score]", "'score' is listed twice"),
        ("space: tiny.yaml\nobjectives: [score]\nsampler: cmaes", "sampler.kind: 'cmaes' is not one of"),
        ("space: tiny.yaml\nobjectives: [score]\ntrials: 0", "trials: Input should be greater than or equal to 1"),
        ("space: tiny.yaml", "objectives: is required"),
        ("a: &a [1, 2]\nb: *a", "aliases"),
        ("[" * 5000, "nested too deeply|not valid YAML"),
        ("- just\n- a list", "must be a mapping"),
    ],
)
def test_a_bad_config_is_one_line_naming_the_field(tmp_path, text, message):
    with pytest.raises(ArchspaceError, match=message) as err:
        load_config(write(tmp_path, text))
    assert "\n" not in str(err.value) and str(err.value).startswith(str(tmp_path / "s.yaml"))


def test_the_cli_reports_a_bad_config_in_one_line_and_exits_2(tmp_path, capsys):
    path = write(tmp_path, "space: tiny.yaml\nobjectives: [score]\nworkers: -1")
    assert main(["search", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("archspace: error:") and "workers" in err and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_non_utf8_config_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"name: \xff\xfe")
    with pytest.raises(ArchspaceError, match="bad.yaml: not UTF-8"):
        load_config(path)


def test_every_shipped_space_has_a_shipped_search():
    spaces = {Path(load_config(p).space).stem for p in SEARCHES}
    assert {p.stem for p in (ROOT / "search_spaces").glob("*.yaml")} <= spaces


@pytest.mark.parametrize("path", SEARCHES, ids=lambda p: p.stem)
def test_each_shipped_search_loads_and_its_budgeted_anchors_fit(path):
    cfg = load_config(path)
    space = SearchSpace.from_file(cfg.space)
    make_evaluator(cfg.evaluator)
    assert cfg.budgets.flops is not None and any(o.name == "score" for o in cfg.objectives)
    for name in (*cfg.seed_with, *space.anchors):  # the anchors within the budget can start the search
        g = zoo_genotype(name)
        if analytic_cost(g).total.flops <= cfg.budgets.flops:
            assert space.contains(g)


def test_the_quickstart_is_multi_objective_under_a_flops_budget_with_a_proxy_offline():
    cfg = load_config(ROOT / "searches" / "quickstart.yaml")
    assert [o.name for o in cfg.objectives] == ["score", "flops"]
    assert cfg.evaluator["kind"] == "proxy" and cfg.data["name"] == "digit_twins"


def test_the_twins_search_trains_each_candidate_as_the_twins_table_does():
    """Its scores are read as table-protocol accuracies (results/hybrid_1.8g_twins_train): every training setting, the
    width divisor and the task are the table's."""
    cfg = load_config(ROOT / "searches" / "hybrid_1.8g_twins.yaml")
    table = json.loads((ROOT / "results" / "hybrid_digit_twins_table" / "protocol.json").read_text())
    assert cfg.evaluator["kind"] == "train" and cfg.evaluator["width_divisor"] == table["width_divisor"]
    assert {k: cfg.evaluator[k] for k in table["train"]} == table["train"]
    assert (cfg.data["name"], cfg.data["image_size"]) == (table["data"]["name"], table["data"]["image_size"])


def test_the_quickstart_scores_the_networks_the_table_trains():
    """Its evaluator was chosen by its rank correlation with the committed table: same task and proxy width."""
    cfg = load_config(ROOT / "searches" / "quickstart.yaml")
    table = json.loads((ROOT / "results" / "hybrid_digit_twins_table" / "protocol.json").read_text())
    assert cfg.data["name"] == table["data"]["name"] and cfg.evaluator["width_divisor"] == table["width_divisor"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("budgets: {flops: -1G}", r"budgets\.flops: is negative \(-1e\+09\)"),
        ("budgets: {params: -3}", r"budgets\.params: is negative \(-3\)"),
        ("budgets: {flops: .inf}", r"budgets\.flops: must be a finite number, got inf"),
        ("budgets: {flops: .nan}", r"budgets\.flops: must be a finite number, got nan"),
        ("data: {name: digits, image_size: 100000}", r"data: image_size 100000 is over 256 px, the most for digits"),
        ("data: {name: cifar10, image_size: 100000}", r"data: image_size 100000 is over 1024 px"),
    ],
)
def test_hostile_budgets_and_image_sizes_are_refused_in_one_line(tmp_path, text, message):
    with pytest.raises(ArchspaceError, match=message) as err:
        load_config(write(tmp_path, "space: tiny.yaml\nobjectives: [score]\n" + text))
    assert "\n" not in str(err.value)


def test_an_infinite_budget_never_reaches_run_json(tmp_path):
    """A `.inf` budget was accepted and written into run.json as a bare Infinity (not JSON): now the config is refused."""
    assert main(["search", str(tiny_config(tmp_path, budgets={"flops": float("inf")})), "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()


def test_workers_over_the_usable_cores_are_capped_and_said(tmp_path):
    import os
    import subprocess
    import sys

    from archspace.search.limits import usable_workers

    cores = len(os.sched_getaffinity(0))
    assert usable_workers(cores) == (cores, None)
    assert usable_workers(10_000) == (cores, f"workers: 10000 capped at {cores}, the cores this process may run on")
    cfg = tiny_config(tmp_path, trials=1, workers=10_000)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "archspace.cli", "search", str(cfg), "--out", str(tmp_path / "run"), "--quiet"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert f"archspace: workers: 10000 capped at {cores}" in proc.stderr and "Traceback" not in proc.stderr
