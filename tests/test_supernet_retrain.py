"""`archspace supernet retrain RUN_DIR`: a supernet search's front trained stand-alone, both accuracies side by side."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from archspace.errors import ArchspaceError
from archspace.search.space import SearchSpace
from archspace.supernet import checkpoint
from archspace.supernet.config import SupernetConfig
from archspace.supernet.create import new_supernet
from archspace.supernet.retrain import retrain_front

HERE = Path(__file__).parent
ROOT = HERE.parent
DATA = {"name": "digits", "image_size": 32, "max_train": 128, "max_val": 64}


def supernet_run(tmp_path: Path, width_divisor: int = 2) -> Path:
    """A supernet (untrained, at `width_divisor`) and a 4-trial random search that rated with it."""
    sn = tmp_path / "sn"
    space = SearchSpace.from_file(HERE / "supernet_ddp.yaml")
    net = new_supernet(space, 32, 1, 10, seed=0, n_random=16, width_divisor=width_divisor)
    checkpoint.save(sn, net, None, {"data": DATA, "config": SupernetConfig(width_divisor=width_divisor).model_dump(), "epochs_done": 0, "history": []})
    cfg = {"name": "sn", "space": str(HERE / "supernet_ddp.yaml"), "objectives": ["score", "flops"], "data": DATA, "seed": 0,
           "evaluator": {"kind": "supernet", "checkpoint": str(sn), "calib_batches": 1, "batch_size": 32}, "trials": 4, "sampler": "random"}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    done = subprocess.run([sys.executable, "-m", "archspace.cli", "search", str(tmp_path / "cfg.yaml"), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, cwd=ROOT, timeout=600, env={"OMP_NUM_THREADS": "1", **__import__("os").environ})
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp_path / "run"


@pytest.mark.slow
def test_retrain_puts_the_front_stand_alone_beside_its_ratings(tmp_path):
    run = supernet_run(tmp_path)
    lines: list[str] = []
    result = retrain_front(run, {"epochs": 1, "batch_size": 32, "max_steps_per_epoch": 2}, log=lines.append)
    front = result["front"]
    assert front and result["width_divisor"] == 2 and result["train"]["width_divisor"] == 2
    trials = {r.split(",")[0] for r in (run / "trials.csv").read_text().splitlines()[1:]}
    for row in front:
        assert str(row["number"]) in trials and 0.0 <= row["score"] <= 1.0 and 0.0 <= row["standalone"] <= 1.0
        assert any(row["genotype_id"] in line and "stand-alone" in line for line in lines)
    assert json.loads((run / "retrain.json").read_text())["front"] == front
    # the CLI prints the same comparison
    out = subprocess.run([sys.executable, "-m", "archspace.supernet.commands", "retrain", str(run), "--epochs", "1", "--max-steps", "1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "supernet" in out.stdout and "stand-alone" in out.stdout and "retrain.json" in out.stdout


def test_retrain_refuses_a_run_without_the_supernet_evaluator(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"objectives": [{"name": "score", "direction": "maximize"}]}))
    (run / "config.yaml").write_text(yaml.safe_dump({"name": "x", "space": str(HERE / "supernet_ddp.yaml"), "objectives": ["score"], "data": DATA}))
    with pytest.raises(ArchspaceError, match="its evaluator is 'proxy'; retrain compares a supernet search"):
        retrain_front(run, {})
    with pytest.raises(ArchspaceError, match="not a search run"):
        retrain_front(tmp_path / "nothing", {})
