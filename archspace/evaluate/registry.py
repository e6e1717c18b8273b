"""Evaluator kinds: one protocol, one registry, one typed config per kind (chosen by its `kind` field).

An evaluator turns a genotype (already adapted to the data) into {"score": higher is better, ...}.
The search config's `evaluator:` block names a kind and that kind's fields; `make_evaluator(block)`
validates the block against the kind's config class (a discriminated union on `kind`) and builds it.
The orchestration calls `setup(ctx)` once per run, before any trial, in the driving process: whatever
`setup` keeps on the evaluator object (a trained supernet, a lookup table) reaches every trial and
every worker, because the set-up evaluator itself is what the backends hand to their workers (pickled
once per worker process; through Ray's object store under Ray). `ctx.state_dir` is a folder kept with
the run, so a resumed run can load what the first one built instead of building it again.

Adding a kind is one module under archspace/evaluate/ (every module there is imported when a kind is
looked up, so nothing else needs editing) plus its tests:

    from typing import Literal
    from archspace.evaluate.registry import BaseEvaluator, EvaluatorConfig, SetupContext, register_evaluator

    class LookupConfig(EvaluatorConfig):
        kind: Literal["lookup"] = "lookup"
        table: str                                   # validated with the rest of the search config

    @register_evaluator
    class LookupEvaluator(BaseEvaluator):
        config_class = LookupConfig
        reported_epochs = 0                          # > 0: calls report(epoch, score) that often (pruners, ASHA)

        def setup(self, ctx: SetupContext) -> None:  # once per run; the state travels with the object
            self.scores = load_table(self.cfg.table)

        def evaluate(self, genotype, bundle, seed=0, device="cpu", report=None) -> dict[str, float]:
            return {"score": self.scores[genotype.id]}

Nothing outside this package tests a kind's name: ask the evaluator (`reported_epochs`, `score_name`,
`score_is_accuracy`).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from archspace.errors import ArchspaceError
from archspace.evaluate.config import validate

Report = Callable[[int, float], None]
DEFAULT_KIND = "proxy"


class EvaluatorConfig(BaseModel):
    """Base of every kind's config: frozen, unknown fields refused; a subclass sets `kind: Literal[...]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str


@dataclass(frozen=True)
class SetupContext:
    """What `setup` may use: the run's data, seed and device, and a folder kept with the run (None: keep nothing)."""

    bundle: Any
    seed: int = 0
    device: str = "cpu"
    state_dir: Path | None = None


@runtime_checkable
class Evaluator(Protocol):
    """What the search needs from an evaluator."""

    cfg: EvaluatorConfig

    @property
    def kind(self) -> str: ...

    @property
    def reported_epochs(self) -> int:
        """How many times evaluate() calls report(epoch, score) (0: never); pruners and ASHA need it > 0."""
        ...

    @property
    def score_name(self) -> str:
        """The score in words, for plots and reports (e.g. 'top-1 accuracy', 'synflow score')."""
        ...

    @property
    def score_is_accuracy(self) -> bool:
        """Whether the score is a fraction correct (reports show it in %)."""
        ...

    def setup(self, ctx: SetupContext) -> None: ...

    def fingerprint(self) -> str | None:
        """A digest of what the scores depend on besides the config (e.g. a checkpoint file's content), so a
        cache keyed by the protocol sees it change; None: the config says it all."""
        ...

    def evaluate(self, genotype, bundle, seed: int = 0, device: Any = "cpu", report: Report | None = None) -> dict[str, float]: ...


class BaseEvaluator:
    """Shared plumbing: holds the validated config; no shared state and no per-epoch reports unless a kind says so."""

    config_class: ClassVar[type[EvaluatorConfig]]
    reported_epochs: int = 0
    score_is_accuracy: bool = False

    def __init__(self, cfg: EvaluatorConfig):
        self.cfg = cfg

    @property
    def kind(self) -> str:
        return self.cfg.kind

    @property
    def score_name(self) -> str:
        return f"{self.kind} score"

    def setup(self, ctx: SetupContext) -> None:
        """Build or load state shared by every trial (default: none)."""

    def fingerprint(self) -> str | None:
        """Nothing outside the config (default); a kind that reads a file its config only names digests it."""
        return None

    def built_form(self, genotype):
        """The network this evaluator scores for an adapted genotype (default: that genotype); a cache of scores keys
        on its id, so a change to how a kind derives its network (e.g. `narrow`) is never served a stale score."""
        return genotype

    def evaluate(self, genotype, bundle, seed: int = 0, device: Any = "cpu", report: Report | None = None) -> dict[str, float]:
        raise NotImplementedError


_KINDS: dict[str, type[BaseEvaluator]] = {}
_discovered = False


def register_evaluator(cls: type[BaseEvaluator]) -> type[BaseEvaluator]:
    """Class decorator: register an evaluator under its config's `kind` default; a kind is registered once."""
    kind = cls.config_class.model_fields["kind"].default
    if not isinstance(kind, str) or not kind:
        raise ArchspaceError(f"{cls.__name__}.config_class must give `kind` a Literal default")
    if kind in _KINDS and _KINDS[kind].__qualname__ != cls.__qualname__:
        raise ArchspaceError(f"evaluator kind {kind!r} is registered twice ({_KINDS[kind].__name__}, {cls.__name__})")
    _KINDS[kind] = cls
    return cls


def unregister_evaluator(kind: str) -> None:
    """Forget a kind (for tests that register a throwaway evaluator)."""
    _KINDS.pop(kind, None)


def _discover() -> None:
    """Import every module of archspace.evaluate once, so each registers its kinds."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    import archspace.evaluate as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")


def evaluator_kinds() -> tuple[str, ...]:
    _discover()
    return tuple(sorted(_KINDS))


def evaluator_class(kind: str, prefix: str = "evaluator") -> type[BaseEvaluator]:
    _discover()
    if kind not in _KINDS:
        raise ArchspaceError(f"{prefix}.kind: unknown kind {kind!r}; known kinds: {', '.join(evaluator_kinds())}")
    return _KINDS[kind]


def evaluator_config(data: dict[str, Any] | EvaluatorConfig | None, prefix: str = "evaluator") -> EvaluatorConfig:
    """The typed config of an `evaluator:` block (kind defaults to proxy); bad fields raise one line naming them."""
    if isinstance(data, EvaluatorConfig):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ArchspaceError(f"{prefix}: must be a mapping, got {type(data).__name__}")
    data = {"kind": DEFAULT_KIND, **data}
    kind = data["kind"]
    if not isinstance(kind, str):
        raise ArchspaceError(f"{prefix}.kind: must be a string, got {type(kind).__name__}")
    return validate(evaluator_class(kind, prefix).config_class, data, prefix)


def make_evaluator(cfg: dict[str, Any] | EvaluatorConfig | None = None) -> BaseEvaluator:
    """An evaluator from the `evaluator:` block (default: the synflow proxy); not yet set up (see `setup`)."""
    config = evaluator_config(cfg)
    return evaluator_class(config.kind)(config)
