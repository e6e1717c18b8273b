"""Budgets checked on the analytic cost at the target resolution, before anything is built.

A sample over budget is infeasible: its violations go to Optuna's constraint attribute (`record_constraints`:
one constraint per budget after `valid`, so constrained TPE / NSGA-II / GP learn from it) and it is never built,
trained or silently dropped. A violation is relative, cost / budget - 1, so budgets of different units
weigh alike in NSGA-II's summed penalty; <= 0 means within budget.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from archspace.cost.analytic import analytic_cost
from archspace.cost.memory import analytic_memory
from archspace.genotype import Genotype
from archspace.search.config import Budgets, Costs, SearchConfig

MIB = 2**20


@dataclass(frozen=True)
class TrialCosts:
    """Costs of one genotype at its own resolution; latency is None unless a budget or objective needs it."""

    flops: int
    params: int
    memory_mb: float
    latency_ms: float | None = None

    def get(self, name: str) -> float | None:
        return getattr(self, name)

    def as_dict(self) -> dict[str, float | None]:
        return {"flops": self.flops, "params": self.params, "latency_ms": self.latency_ms, "memory_mb": self.memory_mb}


@dataclass
class Coster:
    """Computes a genotype's costs the way a config asks (latency only when it is needed)."""

    costs: Costs = field(default_factory=Costs)
    latency: bool = False
    _table: object | None = None

    @classmethod
    def for_config(cls, cfg: SearchConfig) -> "Coster":
        return cls(cfg.costs, cfg.needs("latency_ms"))

    def __call__(self, genotype: Genotype) -> TrialCosts:
        total = analytic_cost(genotype).total
        mem = analytic_memory(genotype, self.costs.memory.batch)
        mem_bytes = mem.inference_bytes if self.costs.memory.kind == "inference" else mem.training_bytes
        return TrialCosts(total.flops, total.params, mem_bytes / MIB, self._latency(genotype) if self.latency else None)

    def _latency(self, genotype: Genotype) -> float:
        from archspace.cost.latency import LatencySettings, measure_latency

        lat = self.costs.latency
        settings = LatencySettings(batch=lat.batch, device=lat.device, threads=lat.threads)
        if lat.mode == "measure":
            return measure_latency(genotype, settings).median_ms
        if self._table is None:
            from archspace.cost.predictor import LatencyTable

            self._table = LatencyTable(settings)
        return self._table.predict(genotype, measure_missing=True)  # type: ignore[attr-defined]


def violations(costs: TrialCosts, budgets: Budgets) -> dict[str, float]:
    """cost / budget - 1 for every budget (<= 0: within it)."""
    return {name: float(costs.get(name)) / limit - 1.0 for name, limit in budgets.items()}


def max_violation(v: dict[str, float]) -> float:
    """The largest violation, 0.0 when there are no budgets; > 0 means infeasible."""
    return max(v.values(), default=0.0)


# The trial system attribute that holds a trial's constraints as one list: the form Optuna's samplers read
# (Trial.constraints gives {"0": ..., "1": ...}) and the only one optuna-dashboard 0.21 reads (its
# serializer takes system_attrs["constraints"]); Optuna 5's per-name `set_constraint` keys are invisible
# to the dashboard, which then draws over-budget trials as Complete and feasible.
CONSTRAINTS_KEY = "constraints"


def constraint_names(budgets: Budgets) -> list[str]:
    """What each position of a trial's constraint list means: "valid", then the budgets in config order."""
    return ["valid", *(name for name, _ in budgets.items())]


def record_constraints(trial, budgets: Budgets, v: dict[str, float] | None) -> None:
    """Store a trial's constraints in `constraint_names` order: an invalid sample (`v` None) is [1, 0, ...]
    (its costs are unknown; every trial carries the same names, as Optuna's GP sampler requires), a
    costed one [0, *violations]."""
    values = [1.0] + [0.0] * len(budgets.items()) if v is None else [0.0] + [float(v[name]) for name, _ in budgets.items()]
    trial.storage.set_trial_system_attr(trial._trial_id, CONSTRAINTS_KEY, values)  # noqa: SLF001 -- as Optuna's own constraints_func path writes it
