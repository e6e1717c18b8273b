"""The `supernet` evaluator: score = validation accuracy of the subnet with a trained supernet's weights.

`evaluator: {kind: supernet, checkpoint: DIR, train: {epochs: 5, ...}}` where DIR was written by
`archspace supernet train CONFIG --out DIR` (a relative DIR is taken from the working directory; `train`
holds that command's options, archspace.supernet.config.SupernetConfig; `width_divisor`, the checkpoint's by
default, narrows each subnet as the supernet was trained). setup() loads the supernet once per run; every trial
and worker rates with it (archspace.supernet.rate: inherited weights, BatchNorm recalibrated on
`calib_batches` training batches).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field, model_validator

from archspace.errors import ArchspaceError
from archspace.evaluate.data import DataBundle
from archspace.evaluate.registry import BaseEvaluator, EvaluatorConfig, Report, SetupContext, register_evaluator
from archspace.supernet.config import SupernetConfig


class SupernetEvaluatorConfig(EvaluatorConfig):
    """Rate subnets with a trained supernet (archspace supernet train)."""

    kind: Literal["supernet"] = "supernet"
    checkpoint: str = Field(min_length=1, description="the folder `archspace supernet train --out` wrote")
    calib_batches: int = Field(4, ge=0, description="training batches that recalibrate BatchNorm statistics per subnet")
    batch_size: int = Field(64, ge=1)
    width_divisor: int | None = Field(None, ge=1, description="subnets at every width / this (archspace.genotype.scale.narrow); None: the checkpoint's, which it must equal when given")
    train: SupernetConfig | None = Field(None, description="how `archspace supernet train CONFIG` trains it (read by that command)")

    @model_validator(mode="before")
    @classmethod
    def _train_takes_the_divisor(cls, data: Any) -> Any:
        """A width_divisor given here is also the training's when `train` does not give one (one divisor per config)."""
        if isinstance(data, dict) and data.get("width_divisor") is not None and isinstance(data.get("train"), dict) \
                and "width_divisor" not in data["train"]:
            return {**data, "train": {**data["train"], "width_divisor": data["width_divisor"]}}
        return data

    @model_validator(mode="after")
    def _one_divisor(self) -> "SupernetEvaluatorConfig":
        if self.width_divisor is not None and self.train is not None and self.train.width_divisor != self.width_divisor:
            raise ValueError(f"width_divisor: {self.width_divisor} here but train.width_divisor is {self.train.width_divisor}; give it once")
        return self


@register_evaluator
class SupernetEvaluator(BaseEvaluator):
    """Inherited-weight validation accuracy; the supernet is loaded once, in setup()."""

    config_class = SupernetEvaluatorConfig
    cfg: SupernetEvaluatorConfig
    score_is_accuracy = True
    score_name = "top-1 accuracy (supernet weights)"

    def __init__(self, cfg: SupernetEvaluatorConfig):
        super().__init__(cfg)
        self.supernet = None

    def setup(self, ctx: SetupContext) -> None:
        from archspace.supernet import checkpoint

        folder = Path(self.cfg.checkpoint)
        self.supernet, meta = checkpoint.load(folder)
        dims = (ctx.bundle.image_size, ctx.bundle.in_chans, ctx.bundle.num_classes)
        if (self.supernet.image_size, self.supernet.in_chans, self.supernet.num_classes) != dims:
            raise ArchspaceError(
                f"evaluator.checkpoint: {folder} was trained on {meta.get('data')} "
                f"({self.supernet.image_size} px, {self.supernet.in_chans} channels, {self.supernet.num_classes} classes), "
                f"the search's data is {dims[0]} px, {dims[1]} channels, {dims[2]} classes"
            )
        if self.cfg.width_divisor not in (None, self.supernet.width_divisor):
            raise ArchspaceError(
                f"evaluator.width_divisor: {self.cfg.width_divisor}, but {folder} was trained at width divisor "
                f"{self.supernet.width_divisor} (its subnets are narrowed by that); leave it out or give {self.supernet.width_divisor}"
            )

    def fingerprint(self) -> str | None:
        """The sha256 of checkpoint.pt (None while there is none): a supernet retrained into the same folder
        rates differently, so published rows cached under the old weights must not be reused."""
        from archspace.digest import file_sha256
        from archspace.supernet.checkpoint import CHECKPOINT

        path = Path(self.cfg.checkpoint) / CHECKPOINT
        return file_sha256(path) if path.is_file() else None

    def built_form(self, genotype):
        """The subnet the supernet rates for an adapted genotype: narrowed by the checkpoint's width divisor (read
        from the loaded supernet, the config, or the folder's supernet.json, in that order)."""
        from archspace.genotype.scale import narrow
        from archspace.supernet.checkpoint import width_divisor

        if self.supernet is not None:
            return self.supernet.place(genotype)
        divisor = self.cfg.width_divisor or width_divisor(self.cfg.checkpoint)
        return narrow(genotype, divisor)

    def evaluate(self, genotype, bundle: DataBundle, seed: int = 0, device: Any = "cpu", report: Report | None = None) -> dict[str, float]:
        from archspace.evaluate.evaluator import check_fits
        from archspace.supernet.rate import rate

        check_fits(genotype, bundle)
        if self.supernet is None:
            self.setup(SetupContext(bundle=bundle, seed=seed, device=str(device)))
        self.supernet.to(torch.device(device))
        accuracy = rate(self.supernet, self.supernet.place(genotype), bundle, calib_batches=self.cfg.calib_batches,
                        batch_size=self.cfg.batch_size, seed=seed, device=device)
        return {"score": accuracy}
