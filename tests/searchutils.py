"""A tiny search space and config for runner tests: 64 px target, digits at 32 px, a cheap proxy."""
from __future__ import annotations

from pathlib import Path

import yaml

TINY_SPACE = """
name: tiny
base: u_dwconv_micro
genotype:
  image_size: 64
  stages:
    - {depth: {int: [1, 2]}}
    - {channels: {choice: [48, 64]}, depth: 1}
    - {channels: {choice: [64, 96, 128]}, depth: {int: [1, 3]}}
    - {channels: {choice: [128, 256]}, depth: 1}
each_stage:
  mixer:
    choice:
      - {kind: dwconv, kernel: {choice: [3, 5, 7]}, proj: true}
      - {kind: sra, heads: 1, sr: {expr: "[4, 2, 1, 1][stage]"}}
"""


def tiny_config(tmp: Path, **over) -> Path:
    """Write the tiny space and a search config over it into `tmp`; returns the config path."""
    (tmp / "tiny.yaml").write_text(TINY_SPACE)
    cfg = {
        "name": "tiny",
        "space": "tiny.yaml",
        "budgets": {"flops": "16M"},
        "objectives": ["score", "flops"],
        "evaluator": {"kind": "proxy", "proxy": "synflow", "batch_size": 8},
        "data": {"name": "digits", "image_size": 32, "max_train": 64, "max_val": 32},
        "sampler": {"kind": "tpe", "n_startup_trials": 4},
        "trials": 6,
        "seed": 0,
    }
    cfg.update(over)
    path = tmp / "search.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
