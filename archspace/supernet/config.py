"""`archspace supernet train CONFIG`: the search config's space and data, and the training options.

The options sit in the supernet evaluator's block, `evaluator: {kind: supernet, checkpoint: DIR, train: {...}}`,
so one config trains the supernet and then searches with it; a config used only for training may give them
as a top-level `supernet:` section instead (`archspace search` refuses that section).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from archspace.errors import ArchspaceError
from archspace.evaluate.config import validate


class SupernetConfig(BaseModel):
    """How the supernet is trained (single-path one-shot; sandwich rule and in-place distillation optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(5, ge=1)
    batch_size: int = Field(64, ge=1, description="global batch (split evenly over DDP processes)")
    lr: float = Field(1e-3, gt=0, description="AdamW peak learning rate, cosine to min_lr per step")
    min_lr: float = Field(0.0, ge=0)
    weight_decay: float = Field(0.05, ge=0)
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    sandwich: bool = Field(False, description="each step trains the largest, the smallest and `random_paths` random subnets (BigNAS/OFA sandwich rule)")
    random_paths: int = Field(2, ge=1, description="random subnets per step under the sandwich rule")
    distill: bool = Field(False, description="in-place distillation: the other subnets learn the largest one's soft labels (needs sandwich)")
    width_divisor: int = Field(1, ge=1, description="subnets are narrow(adapt(genotype), width_divisor) (archspace.genotype.scale), the proxy width a trained-architecture table trains at; the shared tensors are sized for that width")
    max_steps_per_epoch: int | None = Field(None, ge=1)
    log_every: int = Field(10, ge=1, description="a progress line every this many steps")
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _distill_needs_sandwich(self) -> "SupernetConfig":
        if self.distill and not self.sandwich:
            raise ValueError("distill: in-place distillation needs sandwich: true (the largest subnet is the teacher)")
        return self


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[Any, SupernetConfig]:
    """The search config (space, data, seed) and the training options of CONFIG, with CLI `overrides` on top."""
    from archspace.search.config import config_from_dict, read_yaml

    path = Path(path)
    data = read_yaml(path)  # the search config's reader: safeload's limits, no aliases
    if not isinstance(data, dict):
        raise ArchspaceError(f"{path}: a search config must be a mapping")
    section = data.pop("supernet", None) or {}
    evaluator = data.get("evaluator")
    if isinstance(evaluator, dict) and evaluator.get("kind") == "supernet" and evaluator.get("train"):
        if section:
            raise ArchspaceError(f"{path}: give the training options once, in evaluator.train or in supernet:, not both")
        section = evaluator["train"]
    if isinstance(evaluator, dict) and evaluator.get("kind") == "supernet" and "width_divisor" in evaluator and isinstance(section, dict):
        section = {"width_divisor": evaluator["width_divisor"], **section}  # one divisor for training and rating
    if not isinstance(section, dict):
        raise ArchspaceError(f"{path}: supernet: must be a mapping of training options")
    data.setdefault("name", re.sub(r"[^A-Za-z0-9._-]", "_", path.stem) or "search")
    search = config_from_dict(data, base=path.resolve().parent, where=str(path))
    section = {"seed": search.seed, **section, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    return search, validate(SupernetConfig, section, f"{path}: supernet")
