"""benchmarks/probe_gap.py's variations are what its docstring says they are (the twins task's labels, the probes'
changes), so its figures measure the stated causes."""
from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def probe_gap():
    spec = importlib.util.spec_from_file_location("probe_gap", ROOT / "benchmarks" / "probe_gap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_twins_label_is_the_class_of_the_one_instance_drawn_twice_and_class_counts_leave_four(probe_gap):
    from archspace.evaluate.tasks import DigitLookup, photo_bands, source_digits, source_photos

    digits, labels = source_digits()
    spec = DigitLookup()
    pool = np.arange(len(labels))
    images, targets, sources = probe_gap.compose_twins(spec, digits, labels, pool, photo_bands(source_photos(), (1.0,))[0],
                                                        40, np.random.default_rng(0))
    assert images.shape == (40, 3, 32, 32) and images.dtype == np.uint8
    for target, cells in zip(targets, sources):
        twins = [src for src, n in Counter(cells.tolist()).items() if n == 2]
        assert len(twins) == 1 and labels[twins[0]] == target  # exactly one instance twice, and it is the label
        class_counts = Counter(labels[cells].tolist())
        assert sorted(class_counts.values()) == [1, 2, 2, 2, 2]  # four classes twice: reading classes leaves 4 candidates


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
