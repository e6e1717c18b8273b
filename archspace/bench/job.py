"""Training one table entry with one seed: the row it adds to the table.

A job is plain data (the trained genotype's JSON, the seed, the protocol's data and training config), so
it travels to a worker process or a Ray actor as is. The worker keeps the loaded task between jobs.
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from typing import Any

JOB_THREADS = 1  # torch threads per job: one core per worker, so --workers N uses N cores


@dataclass(frozen=True)
class Job:
    """One (architecture, seed) training of the table; `row` holds the entry's fields the worker does not compute."""

    key: tuple[str, int]  # (arch_id, seed)
    trained_json: str
    data: dict[str, Any]
    train: dict[str, Any]
    row: dict[str, Any]


_BUNDLES: dict[str, Any] = {}


def _bundle(data: dict[str, Any]):
    """The task's data, loaded once per worker process."""
    from archspace.evaluate.data import DataConfig, load_data

    key = json.dumps(data, sort_keys=True)
    if key not in _BUNDLES:
        _BUNDLES[key] = load_data(DataConfig(**data))
    return _BUNDLES[key]


def device_name(device: str) -> str:
    """`auto` -> cuda when present, else cpu."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def run_job(job: Job, device: str = "auto") -> dict[str, Any]:
    """Train the job's network stand-alone and return its table row (per-epoch validation accuracy, final val and test)."""
    import torch
    from torch.utils.data import DataLoader

    import archspace
    from archspace.builder import build
    from archspace.evaluate.seeding import seeded
    from archspace.evaluate.training import TrainConfig, accuracy, train
    from archspace.genotype.io import genotype_from_dict

    torch.set_num_threads(JOB_THREADS)
    dev = torch.device(device_name(device))
    bundle = _bundle(job.data)
    cfg = TrainConfig(**job.train)
    genotype = genotype_from_dict(json.loads(job.trained_json))
    curve: list[float] = []

    def report(epoch: int, acc: float) -> None:
        curve.append(round(float(acc), 5))

    wall, cpu = time.perf_counter(), time.process_time()
    with seeded(job.key[1]):
        model = build(genotype)
        result = train(model, bundle, cfg, dev, seed=job.key[1], report=report)
    test_loader = DataLoader(bundle.test, batch_size=256, shuffle=False)
    test_acc = accuracy(model, test_loader, dev)
    return {
        **job.row,
        "seed": job.key[1],
        "val_curve": curve,
        "val_acc": curve[-1],
        "test_acc": round(test_acc, 5),
        "train_loss": round(float(result["train_loss"]), 5),
        "train_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({platform.processor() or platform.machine()})",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "archspace": archspace.__version__,
    }
