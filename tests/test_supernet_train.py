"""Supernet training, checkpoints, resume after kill -9, DDP equivalence, rating, the evaluator and the CLI end to end."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from archspace.errors import ArchspaceError
from archspace.evaluate.data import load_data
from archspace.evaluate.registry import SetupContext, make_evaluator
from archspace.search.space import SearchSpace
from archspace.supernet import checkpoint
from archspace.supernet.config import SupernetConfig, load_train_config
from archspace.supernet.create import new_supernet
from archspace.supernet.rate import rate
from archspace.supernet.sampler import PathSampler
from archspace.supernet.train import lr_at

HERE = Path(__file__).parent
TINY, DDP_SPACE = HERE / "supernet_tiny.yaml", HERE / "supernet_ddp.yaml"
ROOT = HERE.parent


def write_config(folder: Path, space: Path, train: dict | None = None, evaluator: dict | None = None) -> Path:
    data = {"name": "sn", "space": str(space), "objectives": ["score"], "data": {"name": "digits", "image_size": 32}, "seed": 0}
    if evaluator:
        data["evaluator"] = evaluator
    if train:
        data["supernet"] = train
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli(*args: str, torchrun: int = 0, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    head = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={torchrun}"] if torchrun else [sys.executable]
    done = subprocess.run([*head, "-m", "archspace.supernet.commands", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return checkpoint.read(folder)["state_dict"]


# ------------------------------------------------------------------------------------------- fast


def test_config_refuses_distill_without_sandwich(tmp_path):
    cfg = write_config(tmp_path, TINY, {"distill": True})
    with pytest.raises(ArchspaceError, match="distill.*needs sandwich"):
        load_train_config(cfg)


def test_config_takes_the_evaluator_block_and_cli_overrides(tmp_path):
    cfg = write_config(tmp_path, TINY, evaluator={"kind": "supernet", "checkpoint": "x", "train": {"epochs": 2, "lr": 0.01}})
    search, train = load_train_config(cfg, {"epochs": 3, "lr": None})
    assert (train.epochs, train.lr, search.evaluator["kind"]) == (3, 0.01, "supernet")
    both = write_config(tmp_path, TINY, {"epochs": 1}, evaluator={"kind": "supernet", "checkpoint": "x", "train": {"epochs": 2}})
    with pytest.raises(ArchspaceError, match="not both"):
        load_train_config(both)


def test_unknown_training_option_is_one_line(tmp_path):
    with pytest.raises(ArchspaceError, match=r"supernet\.epochz: unknown field"):
        load_train_config(write_config(tmp_path, TINY, {"epochz": 1}))


def test_cosine_schedule():
    cfg = SupernetConfig(lr=1.0, min_lr=0.0)
    assert lr_at(cfg, 0, 10) == 1.0 and abs(lr_at(cfg, 5, 10) - 0.5) < 1e-12 and lr_at(cfg, 10, 10) == 0.0


def test_sampler_is_seeded_per_epoch_and_has_extremes():
    space = SearchSpace.from_file(TINY)
    a, b = PathSampler(space, 32, 1, 10, seed=1), PathSampler(space, 32, 1, 10, seed=1)
    a.epoch(3), b.epoch(3)
    assert [g.id for g in a.step(True, 2)] == [g.id for g in b.step(True, 2)]
    largest, smallest = a.draw("largest"), a.draw("smallest")
    assert [s.channels for s in largest.stages] == [32, 48, 64, 64] and [s.depth for s in largest.stages] == [2, 2, 2, 1]
    assert [s.channels for s in smallest.stages] == [16, 32, 32, 64] and [s.depth for s in smallest.stages] == [1, 1, 1, 1]


@pytest.fixture(scope="module")
def small_supernet():
    space = SearchSpace.from_file(DDP_SPACE)
    return space, new_supernet(space, 32, 1, 10, seed=0).eval()


def test_rate_recalibrates_without_touching_the_supernet(small_supernet):
    space, supernet = small_supernet
    bundle = load_data({"name": "digits", "image_size": 32, "max_train": 256, "max_val": 128})
    g = PathSampler(space, 32, 1, 10, seed=0).draw()
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    first = rate(supernet, g, bundle, calib_batches=2, batch_size=32)
    assert 0.0 <= first <= 1.0 and first == rate(supernet, g, bundle, calib_batches=2, batch_size=32)
    assert all(torch.equal(before[k], v) for k, v in supernet.state_dict().items())


def test_evaluator_kind_loads_the_checkpoint_once(small_supernet, tmp_path):
    space, supernet = small_supernet
    checkpoint.save(tmp_path, supernet, None, {"data": {"name": "digits", "image_size": 32}, "epochs_done": 0, "history": []})
    bundle = load_data({"name": "digits", "image_size": 32, "max_train": 128, "max_val": 64})
    evaluator = make_evaluator({"kind": "supernet", "checkpoint": str(tmp_path), "calib_batches": 1, "batch_size": 32})
    assert evaluator.score_is_accuracy
    evaluator.setup(SetupContext(bundle=bundle))
    g = PathSampler(space, 32, 1, 10, seed=2).draw()
    assert 0.0 <= evaluator.evaluate(g, bundle)["score"] <= 1.0
    other = load_data({"name": "digits", "image_size": 16, "max_train": 64, "max_val": 32})
    with pytest.raises(ArchspaceError, match="evaluator.checkpoint: .* 16 px"):
        evaluator.setup(SetupContext(bundle=other))
    with pytest.raises(ArchspaceError, match="evaluator.checkpoint"):
        make_evaluator({"kind": "supernet", "checkpoint": ""})


def test_missing_checkpoint_is_one_line(tmp_path):
    with pytest.raises(ArchspaceError, match="no checkpoint.pt; train one"):
        checkpoint.load(tmp_path)


# ------------------------------------------------------------------------------------------- slow


@pytest.mark.slow
def test_resume_after_kill_9_gives_the_uninterrupted_weights(tmp_path):
    cfg = write_config(tmp_path, DDP_SPACE, {"epochs": 3, "batch_size": 32, "max_steps_per_epoch": 6, "log_every": 1})
    cli("train", str(cfg), "--out", str(tmp_path / "straight"))
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "archspace.supernet.commands", "train", str(cfg), "--out", str(killed)],
                            cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        meta = killed / checkpoint.META
        if meta.is_file() and json.loads(meta.read_text())["epochs_done"] >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((killed / checkpoint.META).read_text())["epochs_done"] < 3
    out = cli("train", str(cfg), "--out", str(killed)).stdout
    assert "resuming" in out
    a, b = weights(tmp_path / "straight"), weights(killed)
    assert all(torch.allclose(a[k].double(), b[k].double(), atol=1e-6, rtol=0) for k in a)
    assert "already trained" in cli("train", str(cfg), "--out", str(killed)).stdout


@pytest.mark.slow
def test_ddp_two_gloo_processes_match_one_process(tmp_path):
    cfg = write_config(tmp_path, DDP_SPACE, {"epochs": 2, "batch_size": 32, "max_steps_per_epoch": 4, "sandwich": True, "random_paths": 1})
    cli("train", str(cfg), "--out", str(tmp_path / "two"), torchrun=2)
    cli("train", str(cfg), "--out", str(tmp_path / "one"))
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert one.keys() == two.keys()
    worst = max((one[k].double() - two[k].double()).abs().max().item() for k in one)
    assert worst <= 1e-4, worst
    assert json.loads((tmp_path / "two" / checkpoint.META).read_text())["world_size"] == 2


@pytest.mark.slow
def test_train_search_extract_end_to_end(tmp_path):
    sn = tmp_path / "sn"
    evaluator = {"kind": "supernet", "checkpoint": str(sn), "calib_batches": 2,
                 "train": {"epochs": 1, "batch_size": 32, "max_steps_per_epoch": 3, "distill": True, "sandwich": True, "random_paths": 1}}
    cfg = write_config(tmp_path, TINY, evaluator=evaluator)
    cfg.write_text(cfg.read_text() + "trials: 3\nsampler: random\n")
    assert "epoch 1/1 done" in cli("train", str(cfg), "--out", str(sn)).stdout
    search = subprocess.run([sys.executable, "-m", "archspace.cli", "search", str(cfg), "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert search.returncode == 0, search.stderr[-3000:]
    rows = (tmp_path / "run" / "trials.csv").read_text().splitlines()
    assert len(rows) == 4 and all(",COMPLETE," in r for r in rows[1:])
    genotype = next((tmp_path / "run" / "genotypes").glob("*.json"))
    out = cli("extract", str(sn), str(genotype), "--out", str(tmp_path / "model.pth")).stdout
    assert "stand-alone vs supernet output" in out
    rel = float(out.split("output: ")[1].split(" relative")[0])
    assert rel <= 1e-5
    import archspace
    from archspace.genotype import load_genotype

    net = archspace.build(load_genotype(tmp_path / "model.json"))
    net.load_state_dict(torch.load(tmp_path / "model.pth", weights_only=True))
    assert net.eval()(torch.randn(2, 1, 32, 32)).shape == (2, 10)


@pytest.mark.slow
def test_ray_train_two_workers_match_one_process(tmp_path):
    """`--backend ray`: Ray Train's 2 CPU workers on a local instance give the one-process weights (gloo, DDP)."""
    cfg = write_config(tmp_path, DDP_SPACE, {"epochs": 2, "batch_size": 32, "max_steps_per_epoch": 4, "sandwich": True, "random_paths": 1})
    out = cli("train", str(cfg), "--out", str(tmp_path / "ray"), "--backend", "ray", "--workers", "2").stdout
    assert "epochs done by 2 processes" in out
    cli("train", str(cfg), "--out", str(tmp_path / "one"))
    one, two = weights(tmp_path / "one"), weights(tmp_path / "ray")
    assert one.keys() == two.keys()
    worst = max((one[k].double() - two[k].double()).abs().max().item() for k in one)
    assert worst <= 1e-4, worst
    assert json.loads((tmp_path / "ray" / checkpoint.META).read_text())["world_size"] == 2
