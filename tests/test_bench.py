"""Trained-architecture tables: narrowing, the plan, the store, resume after kill -9, and the table evaluator."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archspace.bench import plan as plan_module
from archspace.bench.plan import all_entries, jobs, random_entries
from archspace.bench.protocol import make_protocol
from archspace.bench.store import TableStore
from archspace.bench.summary import plateau_gain, seed_std, summarize
from archspace.cost.analytic import analytic_cost
from archspace.errors import ArchspaceError, GenotypeError
from archspace.genotype.scale import narrow
from archspace.search.space import SearchSpace
from archspace.zoo import zoo_genotype
from searchutils import TINY_SPACE

SHAPE = (3, 10, 32)  # the digit-lookup task: channels, classes, size
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return path


def test_narrow_divides_widths_and_keeps_the_architecture():
    g = zoo_genotype("u_dwconv_tiny")
    n = narrow(g, 2)
    assert [s.channels for s in n.stages] == [s.channels // 2 for s in g.stages]
    assert [s.depth for s in n.stages] == [s.depth for s in g.stages]
    assert [s.mixer.kind for s in n.stages] == [s.mixer.kind for s in g.stages]
    assert narrow(g, 1) is g
    ratio = analytic_cost(g).total.flops / analytic_cost(n).total.flops
    assert 3.0 < ratio < 4.5  # FLOPs fall by about divisor^2


def test_narrow_refuses_a_width_it_does_not_divide():
    with pytest.raises(GenotypeError, match=r"^stem\.layers\[0\]\.channels: 48 is not divisible by the width divisor 7$"):
        narrow(zoo_genotype("u_dwconv_tiny"), 7)


def test_random_entries_are_seeded_distinct_and_extend(tiny):
    space = SearchSpace.from_file(tiny)
    small, _ = random_entries(space, make_protocol(tiny, n=3, width_divisor=2), SHAPE)
    again, _ = random_entries(space, make_protocol(tiny, n=3, width_divisor=2), SHAPE)
    more, _ = random_entries(space, make_protocol(tiny, n=5, width_divisor=2), SHAPE)
    ids = [e.arch_id for e in small]
    assert ids == [e.arch_id for e in again] == [e.arch_id for e in more][:3]
    assert len(set(e.arch_id for e in more)) == 5
    assert all(space.contains(e.genotype) for e in more)
    assert all(e.trained.image_size == 32 and e.trained.num_classes == 10 for e in more)


def test_jobs_put_the_probe_seeds_first_then_the_property_archs_then_the_noise_seeds_then_the_rest(tiny, monkeypatch):
    monkeypatch.setattr(plan_module, "PROPERTY_ARCHS", 3)
    protocol = make_protocol(tiny, n=5, width_divisor=2, noise_archs=4, seeds=3)
    entries, _ = all_entries(SearchSpace.from_file(tiny), protocol, SHAPE)
    listed = [(e.source, e.arch_id, s) for e, s in jobs(entries, protocol)]
    randoms = [e.arch_id for e in entries if e.source == "random"]
    probes = [x for x in listed if x[0].startswith("probe:")]
    assert len(probes) == 6 and listed[:6] == probes
    assert [(x[1], x[2]) for x in listed[6:9]] == [(r, 0) for r in randoms[:3]]
    assert [(x[1], x[2]) for x in listed[9:15]] == [(r, s) for s in (1, 2) for r in randoms[:3]]
    rest = listed[15:-2]
    assert {x[2] for x in rest} == {0} and {x[1] for x in rest} == {e.arch_id for e in entries if not e.source.startswith("probe:")} - set(randoms[:3])
    assert [(x[1], x[2]) for x in listed[-2:]] == [(randoms[3], 1), (randoms[3], 2)]
    assert len(listed) == len(set(listed)) == 6 + 4 * 3 + (len(entries) - 2 - 4)


def test_probe_pair_is_local_vs_global_at_equal_flops(tiny):
    protocol = make_protocol(tiny, n=1, width_divisor=4)
    entries, _ = all_entries(SearchSpace.from_file(tiny), protocol, SHAPE)
    local, glob = (next(e for e in entries if e.source == f"probe:{s}") for s in ("local", "global"))
    assert {s.mixer.kind for s in local.trained.stages} == {"dwconv"} and {s.mixer.kernel for s in local.trained.stages} == {3}
    assert {s.mixer.kind for s in glob.trained.stages} == {"mhsa"}
    a, b = local.costs()["flops_task"], glob.costs()["flops_task"]
    assert abs(a - b) / a < 0.1


def test_store_skips_a_torn_line_and_appends_after_it(tmp_path):
    store = TableStore(tmp_path)
    store.append({"arch_id": "a", "seed": 0, "test_acc": 0.5})
    with open(store.rows_path, "a") as f:
        f.write('{"arch_id": "b", "se')  # a kill in the middle of a write
    assert [r["arch_id"] for r in store.rows()] == ["a"]
    store.append({"arch_id": "c", "seed": 0, "test_acc": 0.7})
    assert [r["arch_id"] for r in store.rows()] == ["a", "c"]


def test_store_refuses_another_protocol_and_lets_n_grow(tiny, tmp_path):
    store = TableStore(tmp_path / "t")
    store.claim(make_protocol(tiny, n=3, width_divisor=2))
    assert store.claim(make_protocol(tiny, n=5, width_divisor=2)).n == 5
    assert store.claim(make_protocol(tiny, n=2, width_divisor=2)).n == 5
    with pytest.raises(ArchspaceError, match=r"built with another protocol \(width_divisor: 2 there, 4 now\)"):
        store.claim(make_protocol(tiny, n=3, width_divisor=4))


def test_summary_figures_from_rows():
    rows = [
        {"arch_id": "a", "seed": 0, "source": "random", "test_acc": 0.60, "val_acc": 0.6, "val_curve": [0.3, 0.5, 0.59, 0.6, 0.6]},
        {"arch_id": "a", "seed": 1, "source": "random", "test_acc": 0.62, "val_acc": 0.6, "val_curve": [0.3, 0.5, 0.6, 0.6, 0.6]},
        {"arch_id": "b", "seed": 0, "source": "random", "test_acc": 0.90, "val_acc": 0.9, "val_curve": [0.5, 0.8, 0.85, 0.88, 0.9]},
    ]
    s = summarize(rows)
    assert s["best"] == pytest.approx(0.90) and s["worst"] == pytest.approx(0.61) and s["spread"] == pytest.approx(0.29)
    assert seed_std(rows) == pytest.approx(0.0141421, rel=1e-4)
    assert plateau_gain(rows[2]) == pytest.approx(0.02)  # last 20% of 5 epochs: one step, 0.88 -> 0.90


def _cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "archspace.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _build_args(tiny: Path, out: Path, workers: int = 1) -> list[str]:
    return ["bench", "build", str(tiny), "--out", str(out), "--n", "3", "--epochs", "1", "--max-steps", "2",
            "--width-divisor", "2", "--noise-archs", "1", "--seeds", "2", "--no-zoo", "--workers", str(workers)]


@pytest.mark.slow  # three CLI runs that each generate the task and train a few steps: ~1 min on 2 cores
def test_build_resumes_after_kill_9_without_losing_or_repeating_a_row(tiny, tmp_path):
    out = tmp_path / "table"
    victim = _cli(*_build_args(tiny, out, workers=2))
    t0 = time.time()
    while not (out / "rows.jsonl").exists() or not TableStore(out).rows():
        assert victim.poll() is None, victim.communicate()[1]
        assert time.time() - t0 < 240
        time.sleep(0.2)
    workers = _children(victim.pid)
    assert workers, "the build runs its trainings in worker processes"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    t0 = time.time()
    while [pid for pid in workers if Path(f"/proc/{pid}").exists() and _state(pid) != "Z"] and time.time() - t0 < 20:
        time.sleep(0.2)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists() and _state(pid) != "Z"], "orphaned workers live on"
    first = len(TableStore(out).rows())
    survivor = _cli(*_build_args(tiny, out, workers=1))
    _, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, err
    assert f"{first} done" in err
    rows = TableStore(out).rows()
    keys = [(r["arch_id"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys)) == 3 + 2 + 1 + 2 * 1  # 3 random + 2 probes, each noise/probe entry with 2 seeds
    shown = subprocess.run([sys.executable, "-m", "archspace.cli", "bench", "show", str(out), "--json"],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert json.loads(shown.stdout)["rows"] == len(rows)


@pytest.mark.slow  # one CLI run that generates the task: ~20 s on 2 cores
def test_a_worker_killed_from_outside_ends_the_build_in_one_line_naming_its_trainings(tiny, tmp_path):
    build = _cli(*_build_args(tiny, tmp_path / "table", workers=2))
    t0 = time.time()
    while not (workers := [pid for pid in _children(build.pid) if b"spawn_main" in _cmdline(pid)]):
        assert build.poll() is None, build.communicate()[1]
        assert time.time() - t0 < 240
        time.sleep(0.05)
    os.kill(workers[0], signal.SIGKILL)
    _, err = build.communicate(timeout=120)
    assert build.returncode == 2, err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and last.startswith("archspace: error: a worker process died")
    assert re.search(r"while training [\w:]+ \w{12} seed \d", last), last


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_table_evaluator_looks_up_the_trained_accuracy_and_refuses_what_it_lacks(tiny, tmp_path):
    from archspace.bench.build import make_jobs, plan
    from archspace.evaluate.data import DataConfig, load_data
    from archspace.evaluate.registry import SetupContext, make_evaluator
    from archspace.genotype.adapt import adapt

    protocol = make_protocol(tiny, n=2, width_divisor=2, zoo=False, probes=False, noise_archs=0)
    store = TableStore(tmp_path / "t")
    store.claim(protocol)
    entries, _, shape = plan(protocol)
    for k, job in enumerate(make_jobs(entries, protocol, shape, set())):  # rows as a build writes them, with made-up accuracies
        store.append({**job.row, "seed": job.key[1], "val_acc": 0.5 + k / 10, "test_acc": 0.4 + k / 10, "train_s": 1.0, "val_curve": [0.5]})
    bundle = load_data(DataConfig(name="digit_lookup"))
    evaluator = make_evaluator({"kind": "table", "path": str(store.path)})
    evaluator.setup(SetupContext(bundle=bundle))
    for k, entry in enumerate(e for e in entries if e.source == "random"):
        result = evaluator.evaluate(adapt(entry.genotype, 32, 3, 10), bundle)
        assert result["score"] == pytest.approx(0.5 + k / 10) and result["test_acc"] == pytest.approx(0.4 + k / 10)
    with pytest.raises(ArchspaceError, match=r"^table: architecture \w+ is not in .* \(2 architectures\)$"):
        evaluator.evaluate(adapt(zoo_genotype("u_dwconv_tiny"), 32, 3, 10), bundle)
    other = load_data(DataConfig(name="digits"))
    with pytest.raises(ArchspaceError, match="the table was trained on digit_lookup"):
        evaluator.setup(SetupContext(bundle=other))
    before = evaluator.fingerprint()  # the published-model cache key: an extended table is a new protocol
    store.append({**job.row, "seed": 7, "val_acc": 0.1, "test_acc": 0.1, "train_s": 1.0, "val_curve": [0.1]})
    assert before is not None and evaluator.fingerprint() != before
