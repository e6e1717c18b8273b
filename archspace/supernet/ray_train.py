"""Data-parallel supernet training on a Ray cluster: `archspace supernet train CONFIG --out DIR --backend ray`.

Ray Train's TorchTrainer starts `--workers` processes (one CPU each; one GPU each on CUDA) and sets up their
torch.distributed process group (gloo on CPU, nccl on CUDA); each runs the same `train_config_file` as torchrun's
processes do, so DDP, the seeded paths, the checkpoints and resume are those of archspace.supernet.train. The
cluster is the one `archspace search --backend ray` uses (archspace.search.ray_cluster): joined at `--address`,
or a local instance on the loopback address. On a multi-node cluster CONFIG, its space file and DIR must be at the
same paths on every node (rank 0 writes DIR).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from archspace.errors import ArchspaceError


def _worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: the process group is up; train (rank 0 writes the checkpoints)."""
    import torch

    from archspace.supernet.train import train_config_file

    torch.set_num_threads(config["threads"])
    train_config_file(config["config"], config["overrides"], Path(config["out"]), device=config["device"], log=lambda line: print(line, flush=True))


def train_with_ray(config: Path, overrides: dict[str, Any], out: Path, workers: int, address: str | None = None,
                   device: str = "cpu", log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train (or resume) the supernet of CONFIG into `out` with `workers` Ray Train processes; returns its checkpoint's meta."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from archspace.search.ray_cluster import connect
    from archspace.supernet import checkpoint

    if workers < 1:
        raise ArchspaceError(f"--workers: {workers}; give at least 1")
    cuda = device.startswith("cuda")
    out = out.resolve()
    started = connect(address, None if address else workers)
    try:
        trainer = TorchTrainer(
            _worker,
            train_loop_config={"config": str(config.resolve()), "overrides": overrides, "out": str(out), "device": "cuda" if cuda else device,
                               "threads": 1},
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=cuda, resources_per_worker={"CPU": 1, **({"GPU": 1} if cuda else {})}),
            run_config=RunConfig(name="supernet", storage_path=str(out / "ray_train")),
        )
        log(f"training with Ray Train: {workers} workers ({'a GPU' if cuda else 'a CPU'} each) on the cluster "
            f"{'at ' + address if address else 'started here on the loopback address'}")
        try:
            result = trainer.fit()
        except Exception as err:  # Ray wraps a worker's error (TrainingFailedError / WorkerGroupError)
            raise ArchspaceError(f"supernet train --backend ray: a worker failed: {_first_line(err)}") from None
        if getattr(result, "error", None) is not None:
            raise ArchspaceError(f"supernet train --backend ray: a worker failed: {_first_line(result.error)}")
    finally:
        if started:
            ray.shutdown()
    meta = json.loads((out / checkpoint.META).read_text(encoding="utf-8"))
    for h in meta["history"]:
        log(f"epoch {h['epoch']}: loss {h['loss']:.4f}, {h['seconds']:.1f} s")
    log(f"{out}: {meta['epochs_done']} epochs done by {meta['world_size']} processes")
    return meta


def _first_line(err: BaseException) -> str:
    """The innermost cause's message, first line (Ray's wrappers add pages of context)."""
    while err.__cause__ is not None:
        err = err.__cause__
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__
