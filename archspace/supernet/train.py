"""Supernet training: single-path one-shot steps (or the sandwich rule), per-epoch atomic checkpoints, resume, DDP.

Under torchrun (WORLD_SIZE > 1) the supernet is wrapped in DistributedDataParallel (gloo on CPU, nccl on
CUDA); every process draws the same paths (PathSampler is seeded per epoch) and a DistributedSampler
splits each global batch, so N processes compute the gradient one process computes on the whole batch.
Shared tensors off every path of a step get no gradient (grad None), whatever DDP did with them.
BatchNorm: on CUDA the subnets use SyncBatchNorm, so statistics are over the global batch; torch has no
CPU SyncBatchNorm, so on CPU each process normalises with its own share of the batch (plain DDP), and only
BatchNorm-free paths compute exactly the one-process gradient there.
"""
from __future__ import annotations

import math
import os
import resource
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, DistributedSampler

from archspace.errors import ArchspaceError
from archspace.evaluate.data import DataBundle
from archspace.search.space import SearchSpace
from archspace.supernet import checkpoint
from archspace.supernet.config import SupernetConfig
from archspace.supernet.create import new_supernet
from archspace.supernet.sampler import PathSampler
from archspace.supernet.supernet import Supernet


def distributed() -> tuple[int, int]:
    """(rank, world size) of this process: the process group a launcher set up, or initialised here under torchrun."""
    if dist.is_initialized():  # set up by the launcher (Ray Train's TorchTrainer)
        return dist.get_rank(), dist.get_world_size()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _loss(logits: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None, smoothing: float) -> torch.Tensor:
    """Cross-entropy, or with a teacher the cross-entropy to its soft labels (in-place distillation, BigNAS Sec. 3.1)."""
    if teacher is None:
        return F.cross_entropy(logits, labels, label_smoothing=smoothing)
    return torch.sum(-teacher * F.log_softmax(logits, dim=1), dim=1).mean()


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lr_at(cfg: SupernetConfig, step: int, total: int) -> float:
    """Cosine from cfg.lr to cfg.min_lr over `total` steps."""
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))


def train_config_file(config: str | Path, overrides: dict[str, Any], out: Path, device: str = "cpu",
                      log: Callable[[str], None] = print) -> Supernet:
    """`archspace supernet train CONFIG --out DIR`: the config's space, data and options (CLI `overrides` on top)."""
    from archspace.evaluate.data import load_data
    from archspace.supernet.config import load_train_config

    search, cfg = load_train_config(config, overrides)
    space = SearchSpace.from_file(search.space)
    bundle = load_data(search.data)
    meta = {"name": search.name, "space": search.space, "space_text": Path(search.space).read_text(encoding="utf-8"), "data": search.data}
    if distributed()[0] == 0:
        log(f"training the supernet of {search.name} on {bundle.describe()}")
    return train_supernet(space, bundle, cfg, out, meta, device=device, log=log)


def train_supernet(
    space: SearchSpace, bundle: DataBundle, cfg: SupernetConfig, out: Path, meta: dict[str, Any],
    device: str = "cpu", log: Callable[[str], None] = print,
) -> Supernet:
    """Train (or resume) the supernet of `space` on `bundle` into folder `out`; returns it (eval mode)."""
    rank, world = distributed()
    if cfg.batch_size % world:
        raise ArchspaceError(f"supernet.batch_size: {cfg.batch_size} does not split over {world} processes")
    say = log if rank == 0 else (lambda line: None)
    meta = {**meta, "config": cfg.model_dump(), "image_size": bundle.image_size, "in_chans": bundle.in_chans, "num_classes": bundle.num_classes}
    state = checkpoint.read(out)
    if state is not None:
        old = {k: state["meta"].get(k) for k in ("config", "space_text", "data")}
        if old != {k: meta.get(k) for k in old}:
            changed = ", ".join(k for k in old if old[k] != meta.get(k))
            raise ArchspaceError(f"{out}: holds a supernet trained with another {changed}; use a new --out or the same config")
        supernet = Supernet.from_layout(state["layout"])
        supernet.load_state_dict(state["state_dict"])
        done, history = state["meta"]["epochs_done"], list(state["meta"]["history"])
        meta["sizing_cpu_s"] = state["meta"].get("sizing_cpu_s")
        say(f"resuming {out} after epoch {done}/{cfg.epochs}")
    else:
        t0, cpu0 = time.perf_counter(), time.process_time()
        supernet = new_supernet(space, bundle.image_size, bundle.in_chans, bundle.num_classes, seed=cfg.seed, width_divisor=cfg.width_divisor)
        done, history = 0, []
        meta["sizing_cpu_s"] = round(time.process_time() - cpu0, 2)
        say(f"supernet for space {space.name} (widths / {cfg.width_divisor}): {len(supernet.weights)} shared tensors, "
            f"{sum(p.numel() for p in supernet.weights.values()) / 1e6:.2f}M parameters (sized in {time.perf_counter() - t0:.1f} s)")
    supernet.to(device)
    model: nn.Module = supernet
    if world > 1:
        supernet.sync_bn = torch.device(device).type == "cuda"
        model = nn.parallel.DistributedDataParallel(supernet, find_unused_parameters=True)
    optimizer = torch.optim.AdamW(supernet.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if state is not None and state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    data_sampler = DistributedSampler(bundle.train, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed, drop_last=True)
    loader = DataLoader(bundle.train, batch_size=cfg.batch_size // world, sampler=data_sampler, drop_last=True)
    steps = min(len(loader), cfg.max_steps_per_epoch or len(loader))
    if steps == 0:
        raise ArchspaceError(f"supernet.batch_size: {cfg.batch_size} is more than the {len(bundle.train)} training images")
    paths = PathSampler(space, bundle.image_size, bundle.in_chans, bundle.num_classes, seed=cfg.seed, width_divisor=cfg.width_divisor)
    if done >= cfg.epochs:
        say(f"{out}: already trained ({done} epochs)")
    for epoch in range(done, cfg.epochs):
        data_sampler.set_epoch(epoch)
        paths.epoch(epoch)
        torch.manual_seed(cfg.seed * 100_003 + epoch)  # drop path: the same after a resume
        supernet.train()
        t0, cpu0, total = time.perf_counter(), time.process_time(), 0.0
        for step, (images, labels) in enumerate(loader):
            if step >= steps:
                break
            images, labels = images.to(device), labels.to(device)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(cfg, epoch * steps + step, cfg.epochs * steps)
            optimizer.zero_grad(set_to_none=True)
            teacher, used, loss_sum = None, set(), 0.0
            subnets = paths.step(cfg.sandwich, cfg.random_paths)
            for i, genotype in enumerate(subnets):
                logits = model(images, genotype)
                loss = _loss(logits, labels, teacher, cfg.label_smoothing)
                loss.backward()
                if not torch.isfinite(loss):
                    raise ArchspaceError(f"supernet: the loss became {loss.item()} at epoch {epoch + 1} step {step + 1} (lower supernet.lr)")
                loss_sum += loss.item()
                used |= supernet.path_keys(genotype)
                if i == 0 and cfg.distill:
                    teacher = logits.detach().softmax(dim=1)
            for key, p in supernet.weights.items():
                if key not in used:
                    p.grad = None
            optimizer.step()
            total += loss_sum / len(subnets)
            if (step + 1) % cfg.log_every == 0:
                say(f"epoch {epoch + 1}/{cfg.epochs} step {step + 1}/{steps} loss {total / (step + 1):.4f} "
                    f"lr {optimizer.param_groups[0]['lr']:.2e} {(time.perf_counter() - t0) / (step + 1):.2f} s/step")
        if world > 1:  # the epoch's loss over every process's share of the batches
            summed = torch.tensor([total], dtype=torch.float64)
            dist.all_reduce(summed)
            total = summed.item() / world
        history.append({"epoch": epoch + 1, "loss": total / steps, "seconds": round(time.perf_counter() - t0, 3),
                        "cpu_s": round(time.process_time() - cpu0, 2), "peak_rss_mb": round(peak_rss_mb())})
        if rank == 0:
            checkpoint.save(out, supernet, optimizer.state_dict(), {**meta, "epochs_done": epoch + 1, "history": history, "world_size": world})
        say(f"epoch {epoch + 1}/{cfg.epochs} done: loss {total / steps:.4f}, {time.perf_counter() - t0:.1f} s, checkpoint {out / checkpoint.CHECKPOINT}")
        if world > 1:
            dist.barrier()
    return supernet.eval()
