"""Extra objectives an evaluator computes beside its score, on the same model and data (`metrics: [...]`).

A metric is `fn(ctx: MetricContext) -> float`, registered with `register_metric(name)`. It gets its own
copy of the model the evaluator ends with (the initialised network for a proxy evaluator, the trained
one for a training evaluator), so it may change it freely. Every zero-cost proxy is a metric under its
own name; later objectives (effective receptive field, invariance, FGSM robustness) register here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from archspace.errors import ArchspaceError
from archspace.evaluate.data import DataBundle
from archspace.evaluate.proxies import PROXIES, Batch


@dataclass
class MetricContext:
    """What a metric may use: its copy of the model, the data, the evaluator's batches, device and seed."""

    model: nn.Module
    bundle: DataBundle
    batches: Sequence[Batch]
    device: torch.device
    seed: int


Metric = Callable[[MetricContext], float]

METRICS: dict[str, Metric] = {}


def register_metric(name: str) -> Callable[[Metric], Metric]:
    """Add a metric to `METRICS` under `name`."""

    def add(fn: Metric) -> Metric:
        METRICS[name] = fn
        return fn

    return add


def unknown_metric(name: str) -> str | None:
    """None for a known metric name, else the reason (listing the known names)."""
    from archspace.evaluate.probe_objectives import is_probe_objective
    from archspace.probe.metrics import METRIC_NAMES

    if name in METRICS or name in PROXIES or is_probe_objective(name):
        return None
    return f"unknown metric {name!r}; known metrics: {', '.join([*sorted(set(METRICS) | set(PROXIES)), *METRIC_NAMES])}"


def get_metric(name: str) -> Metric:
    """The metric called `name` (a registered metric or a zero-cost proxy); an unknown name lists the known ones."""
    if name in METRICS:
        return METRICS[name]
    if name in PROXIES:
        proxy = PROXIES[name]
        return lambda ctx: proxy(ctx.model, ctx.batches)
    from archspace.evaluate.probe_objectives import is_probe_objective, probe_objective

    if is_probe_objective(name):
        return probe_objective(name)
    raise ArchspaceError(f"metrics: {unknown_metric(name)}")
