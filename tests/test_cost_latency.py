"""Measured latency, the result cache (hit path), and the lookup-table predictor."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from archspace.cost import latency as latency_mod
from archspace.cost.cache import ResultCache, cache_dir, code_digest
from archspace.cost.latency import (
    LatencySettings,
    device_fingerprint,
    measure_latency,
    measure_module,
)
from archspace.cost.predictor import (
    RIDGES,
    LatencyTable,
    build_table,
    choose_ridge,
    fit_overhead,
    spearman,
    units,
)
from archspace.cost.random import preset_genotypes
from archspace.errors import ArchspaceError

FAST = LatencySettings(warmup=1, min_run_time=0.01)


def test_measure_module_reports_median_iqr_and_fingerprint():
    lat = measure_module(nn.Conv2d(3, 8, 3, padding=1), (1, 3, 16, 16), FAST)
    assert lat.median_ms > 0 and lat.iqr_ms >= 0 and lat.repeats >= 1
    assert lat.fingerprint == device_fingerprint("cpu", 1)
    assert {"device", "model", "threads", "torch"} <= set(lat.fingerprint)
    assert lat.settings["batch"] == 1 and lat.settings["dtype"] == "float32"


def test_channels_last_and_dtype_options():
    lat = measure_module(nn.Conv2d(3, 8, 3, padding=1), (2, 3, 16, 16), LatencySettings(batch=2, dtype="bfloat16", channels_last=True, warmup=1, min_run_time=0.01))
    assert lat.settings["channels_last"] and lat.settings["dtype"] == "bfloat16"


def test_bad_settings_are_refused():
    with pytest.raises(ArchspaceError, match="device"):
        LatencySettings(device="tpu").check()
    if not torch.cuda.is_available():
        with pytest.raises(ArchspaceError, match="cuda"):
            LatencySettings(device="cuda").check()


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSPACE_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path


def test_second_measurement_is_a_cache_hit(tmp_path, monkeypatch):
    genotype = preset_genotypes(1, seed=3)[0]
    cache = ResultCache(tmp_path / "results.sqlite")
    calls = []
    real = latency_mod.measure_module

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(latency_mod, "measure_module", counting)
    first = measure_latency(genotype, FAST, cache)
    second = measure_latency(genotype, FAST, cache)
    assert len(calls) == 1 and first == second and len(cache) == 1
    other = measure_latency(genotype, LatencySettings(batch=2, warmup=1, min_run_time=0.01), cache)  # new settings: measured
    assert len(calls) == 2 and other.settings["batch"] == 2
    key = {**FAST.key(), "image_size": genotype.image_size, "code": code_digest()}
    assert ResultCache(tmp_path / "results.sqlite").get("latency", genotype.id, first.fingerprint, key)


def test_cache_get_or_compute_reports_hits(tmp_path):
    cache = ResultCache(tmp_path / "c.sqlite")
    fp, settings = {"device": "cpu"}, {"batch": 1}
    assert cache.get_or_compute("x", "abc", fp, settings, lambda: {"v": 1}) == ({"v": 1}, False)
    assert cache.get_or_compute("x", "abc", fp, settings, lambda: {"v": 2}) == ({"v": 1}, True)
    assert cache.get("x", "abc", {"device": "cuda"}, settings) is None


def test_units_cover_the_network_and_repeat_across_networks():
    a, b = preset_genotypes(2, seed=0)
    ua = units(a)
    assert ua[0].what == "stem" and ua[-1].what == "head"
    assert sum(u.what == "block" for u in ua) == sum(s.depth for s in a.stages)
    assert {u.key for u in ua} & {u.key for u in units(b)}  # the stem and head at least
    for u in ua[:3]:
        out = u.make().eval()(torch.zeros(1, *u.shape))
        assert out.shape[0] == 1


def test_table_build_resumes_and_predicts(tmp_path):
    genotypes = preset_genotypes(3, seed=2)
    path = tmp_path / "table.json"
    table = build_table(genotypes, FAST, path, cache=ResultCache(tmp_path / "r.sqlite"))
    n = len(table.entries)
    assert n == len({u.key for g in genotypes for u in units(g)})
    again = LatencyTable(FAST, path)
    assert again.entries == table.entries and again.fitted_on == 3
    assert again.measure_units(genotypes) == 0  # resumed: nothing left to measure
    assert again.predict(genotypes[0]) > 0
    assert json.loads(path.read_text())["fingerprint"] == device_fingerprint("cpu", 1)


def test_missing_unit_is_an_error_unless_measured(tmp_path):
    table = LatencyTable(FAST, tmp_path / "t.json")
    g = preset_genotypes(1, seed=9)[0]
    with pytest.raises(ArchspaceError, match="not in the latency table"):
        table.predict(g)
    assert table.predict(g, measure_missing=True) > 0


def test_choose_ridge_keeps_the_plain_sum_when_units_add_up_and_fits_a_real_overhead():
    import random

    rng = random.Random(0)
    features = [{"block:a": rng.uniform(1, 5), "block:b": rng.uniform(0, 3), "other": rng.uniform(0.5, 2)} for _ in range(30)]
    assert choose_ridge(features, [sum(f.values()) for f in features]) is None  # nothing to fit: no scales, no intercept
    law = [1.6 * f["block:a"] + 0.7 * f["block:b"] + f["other"] + 0.4 for f in features]  # a real per-kind overhead
    ridge = choose_ridge(features, law)
    assert ridge == min(RIDGES)
    scales, beta = fit_overhead(features, law, ridge)
    assert scales["block:a"] == pytest.approx(1.6, rel=0.02) and beta == pytest.approx(0.4, rel=0.15)


def test_fitted_table_records_the_ridge_choice(tmp_path):
    table = LatencyTable(FAST, tmp_path / "t.json")
    genotypes = preset_genotypes(4, seed=3)
    table.measure_units(genotypes)
    table.fit(genotypes, [table.unit_sum(g) for g in genotypes])  # exactly the sum of units: nothing to fit
    assert table.ridge is None and set(table.scales.values()) == {1.0} and table.beta == 0.0
    assert LatencyTable(FAST, tmp_path / "t.json").ridge is None


def test_fit_overhead_recovers_a_linear_law_and_spearman():
    sums = [1.0, 2.0, 4.0, 8.0]
    features = [{"block:a": s, "other": 0.5 * s * s} for s in sums]
    scales, beta = fit_overhead(features, [1.2 * s + 0.8 * 0.5 * s * s + 0.5 for s in sums], ridge=0.0)
    assert scales == pytest.approx({"block:a": 1.2, "other": 0.8}) and beta == pytest.approx(0.5)
    shrunk, _ = fit_overhead(features, [1.2 * s + 0.8 * 0.5 * s * s + 0.5 for s in sums], ridge=1e9)
    assert shrunk == pytest.approx({"block:a": 1.0, "other": 1.0}, abs=1e-3)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 2, 2, 3]) == pytest.approx(1.0)
