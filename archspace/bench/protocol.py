"""The fixed protocol of a trained-architecture table: which space, which data, which width, how each network trains."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from archspace.digest import file_sha256
from archspace.evaluate.config import validate
from archspace.evaluate.data import DataConfig
from archspace.evaluate.table import PROTOCOL_FILE
from archspace.evaluate.training import TrainConfig



class TableProtocol(BaseModel):
    """Everything that decides a table's numbers; `n` (how many random architectures) may grow between runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: str = Field(description="the search-space file the architectures are sampled from")
    space_sha256: str = Field(description="hash of the space file's bytes: a changed space is a different table")
    data: DataConfig = DataConfig(name="digit_lookup")
    width_divisor: int = Field(4, ge=1, description="every width is divided by this (archspace.genotype.scale.narrow)")
    train: TrainConfig = TrainConfig(epochs=10, batch_size=64, lr=2e-3, warmup_epochs=1)
    n: int = Field(100, ge=1, description="random architectures, sampled uniformly by Optuna's RandomSampler")
    sample_seed: int = Field(0, description="seed of the random sampler")
    noise_archs: int = Field(20, ge=0, description="the first this many random architectures are trained with every seed")
    seeds: int = Field(3, ge=1, description="seeds of the noise architectures (the others train with seed 0)")
    zoo: bool = Field(True, description="also train every published model the space contains")
    probes: bool = Field(True, description="also train the local-only vs global-attention pair of equal FLOPs with every seed")

    def identity(self) -> dict[str, Any]:
        """What must not change when a table is resumed or extended (everything but `n`)."""
        return self.model_dump(mode="json", exclude={"n"})


def space_hash(path: str | Path) -> str:
    """The space file's sha256 (protocol.json pins it)."""
    return file_sha256(path)


def make_protocol(space: str | Path, **fields: Any) -> TableProtocol:
    """A protocol for `space` with the given fields (validated; a bad field is one line naming it)."""
    data = {k: v for k, v in fields.items() if v is not None}
    return validate(TableProtocol, {"space": str(space), "space_sha256": space_hash(space), **data}, "bench")


def protocol_json(protocol: TableProtocol) -> str:
    return json.dumps(protocol.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"
