"""The `proxy` evaluator: score = one zero-cost proxy (archspace.evaluate.proxies) of the initialised network."""
from __future__ import annotations

import copy
from typing import Literal

import torch
from pydantic import Field, field_validator
from torch import nn

from archspace.evaluate.data import DataBundle
from archspace.evaluate.evaluator import BuildingEvaluator, WithMetrics, WithWidth, finite, first_batches
from archspace.evaluate.proxies import PROXIES, Batch, get_proxy, unknown_proxy
from archspace.evaluate.registry import EvaluatorConfig, Report, register_evaluator
from archspace.evaluate.seeding import seeded


class ProxyEvaluatorConfig(WithMetrics, WithWidth, EvaluatorConfig):
    """Score = one zero-cost proxy of the initialised network on `batches` seeded batches of the training data."""

    kind: Literal["proxy"] = "proxy"
    proxy: str = "synflow"
    batch_size: int = Field(64, ge=2)
    batches: int = Field(1, ge=1)

    @field_validator("proxy")
    @classmethod
    def _known_proxy(cls, value: str) -> str:
        if value not in PROXIES:
            raise ValueError(unknown_proxy(value))
        return value


@register_evaluator
class ProxyEvaluator(BuildingEvaluator):
    """Zero-cost proxy of the seeded, untrained network; no per-epoch reports."""

    config_class = ProxyEvaluatorConfig
    cfg: ProxyEvaluatorConfig

    @property
    def score_name(self) -> str:
        return f"{self.cfg.proxy} score"

    def prepare(self, bundle: DataBundle, seed: int, device: torch.device) -> list[Batch]:
        return first_batches(bundle, self.cfg.batch_size, self.cfg.batches, seed, device)

    def score(self, model: nn.Module, bundle: DataBundle, prepared: list[Batch], seed: int, device: torch.device,
              report: Report | None) -> tuple[dict[str, float], list[Batch]]:
        name = self.cfg.proxy
        with seeded(seed):
            value = finite(f"proxy {name}", get_proxy(name)(copy.deepcopy(model), prepared))
        return {"score": value, name: value}, prepared
