"""The search config (`searches/*.yaml`): space, budgets, objectives, evaluator, data, sampler, trials.

Every default is filled when a config is resolved, and the resolved config is what a run directory
keeps (`config.yaml`), so a run is reproducible from its own folder. Paths in a config file are
relative to the file. Bad input raises one ArchspaceError line naming the field.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from archspace.errors import ArchspaceError
from archspace.pydantic_errors import one_line
from archspace.search.limits import check_data_size, parse_amount

COSTS = ("flops", "params", "latency_ms", "memory_mb")
OBJECTIVES = ("score", *COSTS)
SAMPLERS = ("tpe", "nsgaii", "gp", "random")


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budgets(_Block):
    """Upper limits at the target resolution, checked analytically before anything is built."""

    flops: float | None = Field(None, gt=0, description="multiply-adds per image at the target resolution")
    params: float | None = Field(None, gt=0, description="parameters")
    latency_ms: float | None = Field(None, gt=0, description="latency of costs.latency's device (predicted from its table)")
    memory_mb: float | None = Field(None, gt=0, description="analytic peak memory (costs.memory), MiB")

    _amounts = field_validator("flops", "params", "latency_ms", "memory_mb", mode="before")(parse_amount)

    def items(self) -> list[tuple[str, float]]:
        return [(name, getattr(self, name)) for name in COSTS if getattr(self, name) is not None]


class Objective(_Block):
    """One objective: the evaluator's score (maximised), a cost (minimised), or an evaluator metric computed on the
    score's model and data (a zero-cost proxy or a probe figure such as "fgsm_acc@2/255"; see archspace.evaluate.metrics)."""

    name: str
    direction: Literal["maximize", "minimize"] | None = None

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value in OBJECTIVES:
            return value
        from archspace.evaluate.metrics import unknown_metric

        if reason := unknown_metric(value):
            raise ValueError(f"{value!r} is not one of {', '.join(OBJECTIVES)} or an evaluator metric ({reason})")
        return value

    @property
    def is_metric(self) -> bool:
        """Whether the evaluator computes this objective as an extra metric (not the score, not a cost)."""
        return self.name not in OBJECTIVES

    @model_validator(mode="after")
    def _default_direction(self) -> "Objective":
        if self.direction is None:
            if self.name == "score":
                direction = "maximize"
            elif self.name in COSTS:
                direction = "minimize"
            else:
                from archspace.probe.metrics import is_probe_metric, metric_direction

                direction = metric_direction(self.name) if is_probe_metric(self.name) else "either"
                if direction == "either":
                    raise ValueError(f"{self.name!r} has no better side: give direction: maximize or minimize")
            object.__setattr__(self, "direction", direction)
        return self


class LatencyCost(_Block):
    """How latency is costed: predicted from the device's latency table (units missing from it are measured once and kept)."""

    mode: Literal["predict", "measure"] = "predict"
    device: Literal["cpu", "cuda"] = "cpu"
    threads: int = Field(1, ge=1)
    batch: int = Field(1, ge=1)


class MemoryCost(_Block):
    """Which analytic memory estimate `memory_mb` is: inference or training peak at `batch`."""

    kind: Literal["inference", "training"] = "inference"
    batch: int = Field(1, ge=1)


class Costs(_Block):
    latency: LatencyCost = Field(default_factory=LatencyCost)
    memory: MemoryCost = Field(default_factory=MemoryCost)


class Target(_Block):
    """The resolution budgets and reported costs apply at; null takes the space's own."""

    image_size: int | None = Field(None, ge=8)
    num_classes: int | None = Field(None, ge=1)


class Sampler(_Block):
    """Optuna sampler: kind plus the options its constructor takes (e.g. n_startup_trials, population_size)."""

    kind: Literal["tpe", "nsgaii", "gp", "random"] = "tpe"
    options: dict[str, Any] = Field(default_factory=dict)


class SearchConfig(_Block):
    """A whole search. `space` is a path (relative to the config file) to a search-space YAML."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    space: str
    target: Target = Field(default_factory=Target)
    budgets: Budgets = Field(default_factory=Budgets)
    objectives: tuple[Objective, ...] = Field(min_length=1)
    evaluator: dict[str, Any] = Field(default_factory=lambda: {"kind": "proxy", "proxy": "synflow"}, validate_default=True)
    data: dict[str, Any] = Field(default_factory=lambda: {"name": "digits", "image_size": 32})
    sampler: Sampler = Field(default_factory=Sampler)
    trials: int = Field(20, ge=1)
    seed: int = Field(0, ge=0)
    seed_with: tuple[str, ...] = Field((), description="zoo genotypes (or genotype files) enqueued as the first trials")
    trial_timeout_s: float | None = Field(None, gt=0, description="a trial running longer is stopped and recorded as FAIL")
    workers: int = Field(1, ge=1)
    heartbeat_s: int = Field(10, ge=1, description="server storages: a trial silent for 3 heartbeats is failed and retried")
    kill_retries: int = Field(0, ge=0, le=10, description="a trial whose worker is killed by a signal (out of memory, kill -9; "
                              "not its timeout) is run again with the same parameters up to this many times")
    device: str = Field("cpu", description="where evaluations run: cpu, cuda, cuda:1, ...")
    pruner: Literal["none", "median", "hyperband"] = "none"
    costs: Costs = Field(default_factory=Costs)
    hypervolume_reference: dict[str, float] = Field(default_factory=dict, description="per objective, the hypervolume's reference "
                                                    "value (default: the budget, 0 for an accuracy, else the run's worst + 10% of its range)")

    @field_validator("objectives", mode="before")
    @classmethod
    def _objectives(cls, value: Any) -> Any:
        if isinstance(value, (str, dict)):
            value = [value]
        if isinstance(value, list):
            value = [{"name": v} if isinstance(v, str) else v for v in value]
            names = [v.get("name") if isinstance(v, dict) else None for v in value]
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ValueError(f"{sorted(dup)[0]!r} is listed twice")
        return value

    @model_validator(mode="before")
    @classmethod
    def _metrics_for_objectives(cls, data: Any) -> Any:
        """An objective that is an evaluator metric is added to the evaluator's `metrics` (computed with the score)."""
        objectives = data.get("objectives") if isinstance(data, dict) else None
        objectives = [objectives] if isinstance(objectives, (str, dict)) else objectives
        if not isinstance(objectives, list):
            return data
        wanted = [o.get("name") if isinstance(o, dict) else o for o in objectives]
        from archspace.evaluate.metrics import unknown_metric

        wanted = [n for n in wanted if isinstance(n, str) and n not in OBJECTIVES and not unknown_metric(n)]
        ev = data.get("evaluator", {"kind": "proxy", "proxy": "synflow"})
        have = ev.get("metrics") or [] if isinstance(ev, dict) else None
        if not wanted or not isinstance(have, (list, tuple)):
            return data  # the evaluator's own validation names a bad field
        missing = [n for n in wanted if n not in have]
        return {**data, "evaluator": {**ev, "metrics": [*have, *missing]}} if missing else data

    @field_validator("evaluator", mode="before")
    @classmethod
    def _evaluator(cls, value: Any) -> dict[str, Any]:
        """Validated by its kind's config class (archspace.evaluate.registry); kept as that config's plain dump."""
        from archspace.evaluate.registry import evaluator_config

        return evaluator_config(value).model_dump(mode="json")

    _data = field_validator("data", mode="before")(check_data_size)

    @field_validator("sampler", mode="before")
    @classmethod
    def _sampler(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"kind": value}
        if isinstance(value, dict) and "kind" in value and "options" not in value:
            return {"kind": value["kind"], "options": {k: v for k, v in value.items() if k != "kind"}}
        return value

    @field_validator("seed_with", mode="before")
    @classmethod
    def _seed_with(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _reference_names(self) -> "SearchConfig":
        names = [o.name for o in self.objectives]
        for name, value in self.hypervolume_reference.items():
            if name not in names:
                raise ValueError(f"hypervolume_reference.{name}: not an objective of the search ({', '.join(names)})")
            if not math.isfinite(value):
                raise ValueError(f"hypervolume_reference.{name}: must be a finite number, got {value}")
        return self

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def needs(self, cost: str) -> bool:
        """Whether `cost` must be computed for every trial (a budget or an objective names it)."""
        return getattr(self.budgets, cost) is not None or any(o.name == cost for o in self.objectives)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def config_from_dict(data: Any, base: Path | None = None, where: str = "") -> SearchConfig:
    """Validate a config mapping; `space` is resolved against `base` (the config file's folder)."""
    prefix = f"{where}: " if where else ""
    if not isinstance(data, dict):
        raise ArchspaceError(f"{prefix}a search config must be a mapping, got {type(data).__name__}")
    try:
        cfg = SearchConfig.model_validate(data)
    except ValidationError as err:
        raise ArchspaceError(f"{prefix}{one_line(err, data, fields=SearchConfig.model_fields)}") from None
    except ArchspaceError as err:  # raised by a block's own validation (the evaluator's), already naming its field
        raise ArchspaceError(f"{prefix}{err}") from None
    space = Path(cfg.space)
    if base is not None and not space.is_absolute():
        space = (base / space).resolve()
    if not space.is_file():
        raise ArchspaceError(f"{prefix}space: {cfg.space}: no such file (paths are relative to the config file)")
    for name, options in (("sampler.options", cfg.sampler.options),):
        if "seed" in options or "constraints_func" in options:
            raise ArchspaceError(f"{prefix}{name}: set the seed with `seed:` and budgets with `budgets:`")
    return cfg.model_copy(update={"space": str(space)})


MAX_CONFIG_BYTES = 1_000_000


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases: a config never needs them, and an alias bomb then costs nothing."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError(f"aliases (*{self.peek_event().anchor}) are not allowed in a search config")
        return super().compose_node(parent, index)


def read_yaml(path: str | Path) -> Any:
    """A search config's YAML under safeload's limits (size, UTF-8, bounded plain data), without aliases."""
    from archspace import safeload

    return parse_yaml(safeload.read_text(path, "search config", MAX_CONFIG_BYTES), str(path))


def parse_yaml(text: str, name: str) -> Any:
    """A search config's YAML text, from a file (`read_yaml`) or from where a study stores it (results export),
    under the same policy: at most MAX_CONFIG_BYTES, no aliases, safeload's bounded plain data."""
    from archspace import safeload

    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise ArchspaceError(f"{name}: too large for a search config (limit {MAX_CONFIG_BYTES:,} bytes)")
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as err:
        raise ArchspaceError(f"{name}: not valid YAML: {str(err).splitlines()[0]}") from None
    except RecursionError:
        raise ArchspaceError(f"{name}: nested too deeply to be a search config") from None
    try:
        safeload.check_plain(data)
    except ArchspaceError as err:
        raise ArchspaceError(f"{name}: {err}") from None
    return data


def load_config(path: str | Path) -> SearchConfig:
    """Read and validate a search-config YAML file; `name` defaults to the file's stem."""
    path = Path(path)
    data = read_yaml(path)
    if isinstance(data, dict):
        data.setdefault("name", re.sub(r"[^A-Za-z0-9._-]", "_", path.stem) or "search")
    return config_from_dict(data, base=path.resolve().parent, where=str(path))
