"""The gene nodes of a search space: choice, int, float, subset, expr; how each is sampled and counted (parsed in gene_parse).

A gene node is a YAML mapping with one of the keys `choice`, `int`, `float`, `subset`, `expr`
(modifiers: `tie`, `step`, `log`, `size`). Every other mapping is part of the genotype itself.
Sampling is Optuna define-by-run: each gene calls one `trial.suggest_*` under its parameter name.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from archspace.errors import GenotypeError, join_path

GENE_KEYS = ("choice", "int", "float", "subset", "expr")


class SpaceError(GenotypeError):
    """A search space file is invalid: `path` names the field, `reason` says why."""

    def under(self, prefix: str) -> "SpaceError":
        return SpaceError(join_path(prefix, self.path), self.reason)


def is_gene(value: Any) -> bool:
    """Whether a YAML value is a gene node (a mapping with one of GENE_KEYS)."""
    return isinstance(value, dict) and any(k in value for k in GENE_KEYS)


def has_genes(value: Any) -> bool:
    """Whether a YAML value holds a gene node anywhere inside."""
    if is_gene(value):
        return True
    if isinstance(value, dict):
        return any(has_genes(v) for v in value.values())
    if isinstance(value, list):
        return any(has_genes(v) for v in value)
    return False


def compact(value: Any) -> str:
    """Compact JSON text: the label of a list value or subset (`[3,9,13]`)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------------------------- nodes


@dataclass
class Node:
    """A part of the space tree."""


@dataclass
class Fixed(Node):
    """A value with no gene inside (copied into every sample)."""

    value: Any


@dataclass
class Mapping(Node):
    """A genotype mapping some of whose fields hold genes."""

    items: dict[str, Node]


@dataclass
class Sequence(Node):
    """A list some of whose entries hold genes (`grids: [{choice: [4, 8]}, null]`)."""

    items: list[Node]


@dataclass
class Gene(Node):
    """A node that becomes one Optuna parameter (or, for Expr, a value derived from others).

    `path` is the genotype field path; `name` the Optuna parameter name (the path, with `@label`
    for each choice option it sits in; tied genes share one name); `conditions` the (parameter,
    label) pairs that must hold for the gene to exist; `stages` the template's stage count.
    """

    path: str
    tie: str | None = None
    name: str = ""
    conditions: tuple[tuple[str, Any], ...] = ()
    stages: int = 0

    kind = "gene"

    def signature(self) -> tuple:
        """What must agree for two nodes to be tied."""
        return (type(self).__name__, self.domain())

    def domain(self) -> str:
        raise NotImplementedError

    def count(self) -> float:
        """How many values the gene takes (inf for a continuous range)."""
        raise NotImplementedError

    def suggest(self, trial: Any) -> Any:
        """Ask the trial for this gene's parameter."""
        raise NotImplementedError

    def param_of(self, value: Any) -> Any:
        """The parameter value that samples `value`, or raise ValueError with the reason."""
        raise NotImplementedError


@dataclass
class Choice(Gene):
    """`choice: [...]`: one of a list of values or whole specs; a spec's genes exist only when it is chosen."""

    options: list[Node] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    raw: list[Any] = field(default_factory=list)

    kind = "choice"

    def domain(self) -> str:
        return "{" + ", ".join("null" if x is None else str(x) for x in self.labels) + "}"

    def count(self) -> float:
        return float(len(self.labels))

    def suggest(self, trial: Any) -> Any:
        return trial.suggest_categorical(self.name, self.labels)

    def index(self, label: Any) -> int:
        """Position of a parameter value among the labels (exact type first, then numeric equality)."""
        for exact in (True, False):
            for i, known in enumerate(self.labels):
                same_type = type(known) is type(label)
                if known == label and (same_type if exact else not isinstance(known, bool) and not isinstance(label, bool)):
                    return i
        raise ValueError(f"{label!r} is not among {self.domain()}")


@dataclass
class IntRange(Gene):
    """`int: [low, high]` with `step` (default 1) and `log`."""

    low: int = 0
    high: int = 0
    step: int = 1
    log: bool = False

    kind = "int"

    def domain(self) -> str:
        extra = (f" step {self.step}" if self.step != 1 else "") + (" log" if self.log else "")
        return f"int [{self.low}, {self.high}]{extra}"

    def count(self) -> float:
        return float((self.high - self.low) // self.step + 1)

    def suggest(self, trial: Any) -> int:
        return trial.suggest_int(self.name, self.low, self.high, step=self.step, log=self.log)

    def param_of(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not an integer")
        if not self.low <= value <= self.high or (value - self.low) % self.step:
            raise ValueError(f"{value} is outside {self.domain()}")
        return value


@dataclass
class FloatRange(Gene):
    """`float: [low, high]` with optional `step` and `log`."""

    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False

    kind = "float"

    def domain(self) -> str:
        extra = (f" step {_num(self.step)}" if self.step else "") + (" log" if self.log else "")
        return f"float [{_num(self.low)}, {_num(self.high)}]{extra}"

    def count(self) -> float:
        if self.step is None:
            return math.inf
        return float(round((self.high - self.low) / self.step) + 1)

    def suggest(self, trial: Any) -> float:
        value = trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)
        return round(value, 12) if self.step else value  # 0.30000000000000004 -> 0.3: ids stay readable

    def param_of(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{value!r} is not a number")
        ok = self.low - 1e-12 <= value <= self.high + 1e-12
        if ok and self.step:
            k = (value - self.low) / self.step
            ok = abs(k - round(k)) < 1e-9
        if not ok:
            raise ValueError(f"{_num(value)} is outside {self.domain()}")
        return float(value)


@dataclass
class Subset(Gene):
    """`subset: [items]` with `size` (an int or [low, high]): a sub-list in the set's order, one categorical parameter."""

    items: list[Any] = field(default_factory=list)
    sizes: tuple[int, int] = (1, 1)
    labels: list[str] = field(default_factory=list)

    kind = "subset"

    def domain(self) -> str:
        lo, hi = self.sizes
        size = f"{lo}" if lo == hi else f"{lo}..{hi}"
        return f"subset of {compact(self.items)}, size {size}"

    def count(self) -> float:
        return float(len(self.labels))

    def suggest(self, trial: Any) -> str:
        return trial.suggest_categorical(self.name, self.labels)

    def param_of(self, value: Any) -> str:
        label = compact(list(value)) if isinstance(value, (list, tuple)) else None
        if label not in self.labels:
            raise ValueError(f"{compact(value)} is not a {self.domain()} (in the set's order)")
        return label


@dataclass
class Expr(Gene):
    """`expr: "channels // 32"`: a value derived from other fields (no parameter)."""

    text: str = ""
    tree: Any = None
    stage: int | None = None

    kind = "expr"

    def domain(self) -> str:
        return f"= {self.text}"

    def count(self) -> float:
        return 1.0
