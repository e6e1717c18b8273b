"""benchmarks/probe_gap.py's variations are what its docstring says they are (the probes' changes, the tasks it
draws), so its figures measure the stated causes."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def probe_gap():
    spec = importlib.util.spec_from_file_location("probe_gap", ROOT / "benchmarks" / "probe_gap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_probe_changes_touch_only_what_they_name(probe_gap):
    from archspace.bench.plan import probe_pair
    from archspace.bench.protocol import make_protocol
    from archspace.cost.analytic import analytic_cost

    protocol = make_protocol(ROOT / "search_spaces" / "hybrid.yaml")
    local, glob = probe_pair(protocol, (3, 10, 32))
    pos = probe_gap.changed(glob, "pos_embed")
    heads = probe_gap.changed(glob, "heads_kept")
    assert all(s.block.pos_embed for s in pos.stages) and not any(s.block.pos_embed for s in glob.trained.stages)
    assert [s.mixer.num_heads(s.channels) for s in heads.stages] == [max(1, s.channels // 32) for s in heads.stages]
    assert [s.mixer.num_heads(s.channels) for s in glob.trained.stages] != [s.mixer.num_heads(s.channels) for s in heads.stages]
    assert analytic_cost(heads).total.flops == analytic_cost(glob.trained).total.flops  # the head split costs nothing
    assert probe_gap.changed(local, "size64") == local.trained  # a task variation leaves the network alone


@pytest.mark.parametrize("variant, relation, train", [("twins", "twins", 5000), ("twins4x", "twins", 20000), ("data4x", "lookup", 20000),
                                                      ("size64", "lookup", 5000)])
def test_each_task_variation_draws_what_it_names(probe_gap, monkeypatch, variant, relation, train):
    from archspace.evaluate import tasks

    monkeypatch.setitem(tasks.TASKS, "digit_lookup", tasks.TASKS["digit_lookup"])  # restored after the test
    probe_gap.use_task(variant)
    spec = tasks.TASKS["digit_lookup"]
    assert (spec.relation, spec.sizes[0], spec.image_size) == (relation, train, 64 if variant == "size64" else 32)
