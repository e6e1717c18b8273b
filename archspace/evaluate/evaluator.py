"""What the evaluators that build and score a network share: device and data checks, seeded batches, extra metrics.

The kinds themselves live in their own modules (`proxy`, `train`, ...) and are made through the
registry: `make_evaluator(cfg)` (re-exported here) takes the search config's `evaluator:` block:
  {kind: proxy, proxy: synflow, batch_size: 64, batches: 1, metrics: [naswot]}
  {kind: train, epochs: 3, lr: 0.002, ..., metrics: []}      (TrainConfig fields)
"""
from __future__ import annotations

import copy
import math
import time
from typing import Any

import torch
from pydantic import BaseModel, Field, field_validator
from torch import nn
from torch.utils.data import DataLoader

from archspace.errors import ArchspaceError
from archspace.evaluate.data import DataBundle
from archspace.evaluate.metrics import MetricContext, get_metric, unknown_metric
from archspace.evaluate.proxies import Batch
from archspace.evaluate.registry import BaseEvaluator, Report, make_evaluator
from archspace.evaluate.seeding import seeded


class WithMetrics(BaseModel):
    """Config mixin: extra metrics (archspace.evaluate.metrics) computed on the scored model and data."""

    metrics: tuple[str, ...] = ()

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            if reason := unknown_metric(name):
                raise ValueError(reason)
        if len(set(names)) != len(names):
            raise ValueError("a metric is listed twice")
        return names


class WithWidth(BaseModel):
    """Config mixin: score a copy with every width divided by `width_divisor` (archspace.genotype.scale.narrow), the
    proxy width at which a trained-architecture table trains its networks; 1 scores the genotype as it is."""

    width_divisor: int = Field(1, ge=1, description="divide every width by this before building (1: as sampled)")


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else as torch reads it (one-line error if it cannot)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ArchspaceError(f"device: {device!r} is not a device ({exc})") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ArchspaceError(f"device: {device!r} asked for but CUDA is not available here")
    return resolved


def check_fits(genotype, bundle: DataBundle) -> None:
    """The genotype must already be adapted to the data (archspace.genotype.adapt.adapt)."""
    want = (bundle.image_size, bundle.in_chans, bundle.num_classes)
    have = (genotype.image_size, genotype.in_chans, genotype.num_classes)
    if want != have:
        raise ArchspaceError(
            f"evaluate: genotype {genotype.name!r} is {have[0]} px, {have[1]} channels, {have[2]} classes but {bundle.name} is "
            f"{want[0]} px, {want[1]} channels, {want[2]} classes; adapt it first (archspace.genotype.adapt.adapt)"
        )


def first_batches(bundle: DataBundle, batch_size: int, n: int, seed: int, device: torch.device) -> list[Batch]:
    """`n` batches of a seeded shuffle of the training data, on `device`."""
    loader = DataLoader(bundle.train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    batches = []
    for images, labels in loader:
        batches.append((images.to(device), labels.to(device)))
        if len(batches) == n:
            break
    return batches


def finite(name: str, value: float) -> float:
    """`value`, or one line naming it when it is NaN or infinite."""
    if not math.isfinite(value):
        raise ArchspaceError(f"{name}: the value is {value} (not finite) for this network")
    return value


class BuildingEvaluator(BaseEvaluator):
    """An evaluator that builds the seeded network, scores it (`score`) and adds the configured metrics."""

    def prepare(self, bundle: DataBundle, seed: int, device: torch.device) -> Any:
        """Drawn inside the seeded block that builds the model (e.g. the proxy's batches); default nothing."""
        return None

    def score(self, model: nn.Module, bundle: DataBundle, prepared: Any, seed: int, device: torch.device,
              report: Report | None) -> tuple[dict[str, float], list[Batch]]:
        """The result with its "score", and the batches the metrics see."""
        raise NotImplementedError

    def built_form(self, genotype):
        """The genotype with every width divided by the config's `width_divisor` (the network that is built)."""
        from archspace.genotype.scale import narrow

        return narrow(genotype, getattr(self.cfg, "width_divisor", 1))

    def evaluate(
        self, genotype, bundle: DataBundle, seed: int = 0, device: str | torch.device = "cpu", report: Report | None = None
    ) -> dict[str, float]:
        """Score one genotype (adapted to `bundle`); deterministic on CPU for a seed."""
        from archspace.builder import build

        check_fits(genotype, bundle)
        genotype = self.built_form(genotype)
        dev = resolve_device(device)
        start = time.perf_counter()
        with seeded(seed):  # augmenting transforms draw from the global generators too
            model = build(genotype).to(dev)
            prepared = self.prepare(bundle, seed, dev)
        result, batches = self.score(model, bundle, prepared, seed, dev, report)
        for name in self.cfg.metrics:
            with seeded(seed):
                ctx = MetricContext(copy.deepcopy(model), bundle, batches, dev, seed)
                result[name] = finite(f"metric {name}", get_metric(name)(ctx))
        result["eval_seconds"] = time.perf_counter() - start
        return result


__all__ = ["BuildingEvaluator", "WithMetrics", "WithWidth", "check_fits", "finite", "first_batches", "make_evaluator", "resolve_device"]
