"""The `train` evaluator: score = validation accuracy (fraction) after a short training (archspace.evaluate.training)."""
from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from archspace.evaluate.data import DataBundle
from archspace.evaluate.evaluator import BuildingEvaluator, WithMetrics, WithWidth, first_batches
from archspace.evaluate.proxies import Batch
from archspace.evaluate.registry import EvaluatorConfig, Report, register_evaluator
from archspace.evaluate.seeding import seeded
from archspace.evaluate.training import TrainConfig, train


class TrainEvaluatorConfig(WithMetrics, WithWidth, TrainConfig, EvaluatorConfig):
    """Score = validation accuracy (fraction) after a short training (see TrainConfig)."""

    kind: Literal["train"] = "train"
    metric_batches: int = Field(1, ge=1, description="training batches the metrics see")


@register_evaluator
class TrainEvaluator(BuildingEvaluator):
    """Trains the seeded network and reports the validation accuracy after every epoch (pruners and ASHA use it)."""

    config_class = TrainEvaluatorConfig
    cfg: TrainEvaluatorConfig
    score_is_accuracy = True
    score_name = "top-1 accuracy"

    @property
    def reported_epochs(self) -> int:
        return self.cfg.epochs

    def score(self, model: nn.Module, bundle: DataBundle, prepared: Any, seed: int, device: torch.device,
              report: Report | None) -> tuple[dict[str, float], list[Batch]]:
        with seeded(seed):
            result = train(model, bundle, self.cfg, device, seed=seed, report=report)
            batches = first_batches(bundle, self.cfg.batch_size, self.cfg.metric_batches, seed, device) if self.cfg.metrics else []
        return result, batches
