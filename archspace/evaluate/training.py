"""Short training of a candidate with timm's optimizer, scheduler, losses and mixup; reports after every epoch."""
from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Callable, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn
from torch.utils.data import DataLoader

from archspace.errors import ArchspaceError
from archspace.evaluate.data import DataBundle

Report = Callable[[int, float], None]


class TrainConfig(BaseModel):
    """How a candidate is trained (defaults: AdamW, cosine per step, label smoothing 0.1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(3, ge=1)
    batch_size: int = Field(64, ge=1)
    opt: str = Field("adamw", description="any timm optimizer name (timm.optim.list_optimizers())")
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(0.05, ge=0)
    sched: Literal["cosine", "tanh", "poly", "step", "none"] = "cosine"
    warmup_epochs: int = Field(0, ge=0)
    min_lr: float = Field(0.0, ge=0)
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    mixup: float = Field(0.0, ge=0, description="mixup alpha (0: off)")
    cutmix: float = Field(0.0, ge=0, description="cutmix alpha (0: off)")
    clip_grad: float | None = Field(None, gt=0)
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cap on optimizer steps per epoch")
    amp: bool | Literal["auto"] = Field("auto", description="mixed precision; auto: on for CUDA")
    channels_last: bool | Literal["auto"] = Field("auto", description="channels-last memory format; auto: on for CUDA")
    num_workers: int = Field(0, ge=0)

    @field_validator("opt")
    @classmethod
    def _known_optimizer(cls, value: str) -> str:
        from timm.optim import list_optimizers

        known = list_optimizers()
        if value.lower() not in known:
            raise ValueError(f"unknown optimizer {value!r}; e.g. adamw, sgd, lamb, lion (all: timm.optim.list_optimizers())")
        return value.lower()


def _autocast(device: torch.device, enabled: bool):
    """bfloat16 autocast where the device has it, else float16 (CUDA only); a no-op when disabled."""
    if not enabled:
        return nullcontext()
    dtype = torch.bfloat16 if device.type != "cuda" or torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def _on(setting: bool | str, device: torch.device) -> bool:
    return device.type == "cuda" if setting == "auto" else bool(setting)


def accuracy(model: nn.Module, loader: DataLoader, device: torch.device, amp: bool = False, channels_last: bool = False) -> float:
    """Top-1 accuracy (fraction in [0, 1]) of `model` over `loader`."""
    model.eval()
    correct = total = 0
    with torch.no_grad(), _autocast(device, amp):
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            correct += int((model(images).argmax(dim=1) == labels).sum())
            total += labels.numel()
    return correct / max(total, 1)


def train(
    model: nn.Module,
    bundle: DataBundle,
    cfg: TrainConfig,
    device: torch.device,
    seed: int = 0,
    report: Report | None = None,
) -> dict[str, float]:
    """Train `model` on `bundle.train`, validate after each epoch and call `report(epoch, val_acc)` (epoch from 1).

    Deterministic on CPU for a seed when the caller seeds the global generators (see `seeding.seeded`).
    A non-finite loss raises ArchspaceError; an exception raised by `report` (e.g. optuna.TrialPruned) propagates.
    """
    from timm.data import Mixup
    from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2
    from timm.utils import dispatch_clip_grad

    amp, channels_last = _on(cfg.amp, device), _on(cfg.channels_last, device)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    loader = DataLoader(
        bundle.train,
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=len(bundle.train) > cfg.batch_size,  # mixup and batch norm want full batches
        num_workers=cfg.num_workers,
        generator=torch.Generator().manual_seed(seed),
    )
    val_loader = DataLoader(bundle.val, batch_size=2 * cfg.batch_size, shuffle=False, num_workers=cfg.num_workers)
    steps = min(len(loader), cfg.max_steps_per_epoch or len(loader))
    optimizer = create_optimizer_v2(model, opt=cfg.opt, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = None
    if cfg.sched != "none":
        scheduler, _ = create_scheduler_v2(
            optimizer,
            sched=cfg.sched,
            num_epochs=cfg.epochs,
            warmup_epochs=cfg.warmup_epochs,
            min_lr=cfg.min_lr,
            step_on_epochs=False,
            updates_per_epoch=steps,
        )
    mixup = None
    if cfg.mixup > 0 or cfg.cutmix > 0:
        mixup = Mixup(
            mixup_alpha=cfg.mixup, cutmix_alpha=cfg.cutmix, label_smoothing=cfg.label_smoothing, num_classes=bundle.num_classes
        )
        criterion: nn.Module = SoftTargetCrossEntropy()
    elif cfg.label_smoothing > 0:
        criterion = LabelSmoothingCrossEntropy(smoothing=cfg.label_smoothing)
    else:
        criterion = nn.CrossEntropyLoss()
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda" and not torch.cuda.is_bf16_supported())

    start, updates = time.perf_counter(), 0
    val_acc, best, epoch_loss = 0.0, 0.0, float("nan")
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        loss_sum, seen = 0.0, 0
        for step, (images, labels) in enumerate(loader):
            if step >= steps:
                break
            images, labels = images.to(device), labels.to(device)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            if mixup is not None:
                images, labels = mixup(images, labels)
            with _autocast(device, amp):
                loss = criterion(model(images), labels)
            if not torch.isfinite(loss):
                kind = "NaN" if torch.isnan(loss) else "infinite"
                raise ArchspaceError(f"training: {kind} loss at epoch {epoch} step {step + 1} (lr {cfg.lr:g}); try a lower lr or clip_grad")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.clip_grad is not None:
                scaler.unscale_(optimizer)
                dispatch_clip_grad(model.parameters(), cfg.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            updates += 1
            if scheduler is not None:
                scheduler.step_update(updates)
            loss_sum += float(loss.detach()) * images.shape[0]
            seen += images.shape[0]
        epoch_loss = loss_sum / max(seen, 1)
        val_acc = accuracy(model, val_loader, device, amp, channels_last)
        best = max(best, val_acc)
        if report is not None:
            report(epoch, val_acc)
    return {
        "score": val_acc,
        "val_acc": val_acc,
        "best_val_acc": best,
        "train_loss": epoch_loss,
        "epochs": float(cfg.epochs),
        "train_seconds": time.perf_counter() - start,
    }
