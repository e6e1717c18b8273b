"""Evaluators: a genotype (already adapted to the data) -> {"score": higher is better, ...}.

`make_evaluator(cfg)` takes the search config's `evaluator:` block:
  {kind: proxy, proxy: synflow, batch_size: 64, batches: 1, metrics: [naswot]}
  {kind: train, epochs: 3, lr: 0.002, ..., metrics: []}      (TrainConfig fields)
"""
from __future__ import annotations

import copy
import math
import time
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn
from torch.utils.data import DataLoader

from archspace.errors import ArchspaceError
from archspace.evaluate.config import validate
from archspace.evaluate.data import DataBundle
from archspace.evaluate.metrics import MetricContext, get_metric, unknown_metric
from archspace.evaluate.proxies import PROXIES, Batch, get_proxy, unknown_proxy
from archspace.evaluate.seeding import seeded
from archspace.evaluate.training import Report, TrainConfig, train


def _check_metric_names(names: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if reason := unknown_metric(name):
            raise ValueError(reason)
    if len(set(names)) != len(names):
        raise ValueError("a metric is listed twice")
    return names


class ProxyEvaluatorConfig(BaseModel):
    """Score = one zero-cost proxy of the initialised network on `batches` seeded batches of the training data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["proxy"] = "proxy"
    proxy: str = "synflow"
    batch_size: int = Field(64, ge=2)
    batches: int = Field(1, ge=1)
    metrics: tuple[str, ...] = ()

    @field_validator("proxy")
    @classmethod
    def _known_proxy(cls, value: str) -> str:
        if value not in PROXIES:
            raise ValueError(unknown_proxy(value))
        return value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_metric_names(value)


class TrainEvaluatorConfig(TrainConfig):
    """Score = validation accuracy (fraction) after a short training (see TrainConfig)."""

    kind: Literal["train"] = "train"
    metric_batches: int = Field(1, ge=1, description="training batches the metrics see")
    metrics: tuple[str, ...] = ()

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_metric_names(value)


KINDS = ("proxy", "train")


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


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ArchspaceError(f"{name}: the value is {value} (not finite) for this network")
    return value


class Evaluator:
    """Builds the seeded network, computes the score and the configured metrics."""

    def __init__(self, cfg: ProxyEvaluatorConfig | TrainEvaluatorConfig):
        self.cfg = cfg

    @property
    def kind(self) -> str:
        return self.cfg.kind

    def evaluate(
        self, genotype, bundle: DataBundle, seed: int = 0, device: str | torch.device = "cpu", report: Report | None = None
    ) -> dict[str, float]:
        """Score one genotype (adapted to `bundle`); deterministic on CPU for a seed."""
        from archspace.builder import build

        check_fits(genotype, bundle)
        dev = resolve_device(device)
        start = time.perf_counter()
        with seeded(seed):  # augmenting transforms draw from the global generators too
            model = build(genotype).to(dev)
            if isinstance(self.cfg, ProxyEvaluatorConfig):
                batches = first_batches(bundle, self.cfg.batch_size, self.cfg.batches, seed, dev)
        if isinstance(self.cfg, ProxyEvaluatorConfig):
            result = self._proxy(model, batches, seed)
        else:
            with seeded(seed):
                result = train(model, bundle, self.cfg, dev, seed=seed, report=report)
                batches = first_batches(bundle, self.cfg.batch_size, self.cfg.metric_batches, seed, dev) if self.cfg.metrics else []
        for name in self.cfg.metrics:
            result[name] = self._metric(name, model, bundle, batches, dev, seed)
        result["eval_seconds"] = time.perf_counter() - start
        return result

    def _proxy(self, model: nn.Module, batches: list[Batch], seed: int) -> dict[str, float]:
        name = self.cfg.proxy
        with seeded(seed):
            value = _finite(f"proxy {name}", get_proxy(name)(copy.deepcopy(model), batches))
        return {"score": value, name: value}

    def _metric(self, name: str, model: nn.Module, bundle: DataBundle, batches: list[Batch], dev: torch.device, seed: int) -> float:
        with seeded(seed):
            ctx = MetricContext(copy.deepcopy(model), bundle, batches, dev, seed)
            return _finite(f"metric {name}", get_metric(name)(ctx))


def make_evaluator(cfg: dict[str, Any] | None = None) -> Evaluator:
    """An evaluator from the `evaluator:` block (default: the synflow proxy); bad fields raise one-line errors."""
    cfg = dict(cfg or {})
    kind = cfg.setdefault("kind", "proxy")
    if kind not in KINDS:
        raise ArchspaceError(f"evaluator.kind: unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")
    model = ProxyEvaluatorConfig if kind == "proxy" else TrainEvaluatorConfig
    return Evaluator(validate(model, cfg, "evaluator"))
