"""Parsing one gene mapping of a search space (`choice`, `int`, `float`, `subset`, `expr` and their modifiers)
into its node, with the bounds that keep a hostile file cheap: options, subset members, float steps."""
from __future__ import annotations

import itertools
import math
from typing import Any

from archspace.search import expr as expr_mod
from archspace.search.genes import GENE_KEYS, Choice, Expr, FloatRange, Gene, IntRange, SpaceError, Subset, compact, has_genes, is_gene

MODIFIERS = {"choice": {"tie"}, "int": {"tie", "step", "log"}, "float": {"tie", "step", "log"}, "subset": {"tie", "size"}, "expr": set()}
MAX_SUBSETS = 4096
MAX_CHOICES = 1024
MAX_STEPS = 1e15


def _pair(value: Any, path: str, what: str, kind: type | tuple[type, ...]) -> tuple[Any, Any]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, kind) and not isinstance(v, bool) for v in value)):
        raise SpaceError(path, f"{what} needs [low, high], got {value!r}")
    low, high = value
    if not (math.isfinite(low) and math.isfinite(high)):
        raise SpaceError(path, f"{what} bounds must be finite numbers, got [{low}, {high}]")
    if low > high:
        raise SpaceError(path, f"{what} range [{low}, {high}] is empty")
    return low, high


def option_label(option: Any, index: int) -> Any:
    """The categorical value that stands for one option of a choice."""
    if isinstance(option, dict) and not is_gene(option) and isinstance(option.get("kind"), str):
        return option["kind"]
    if option is None or isinstance(option, (bool, int, float, str)):
        return option
    if not has_genes(option):
        return compact(option)
    return f"option{index}"


def parse_gene(node: dict[str, Any], path: str) -> Gene:
    """Parse one gene mapping (its options are compiled by the caller); raises SpaceError naming `path`."""
    keys = [k for k in GENE_KEYS if k in node]
    if len(keys) > 1:
        raise SpaceError(path, f"a gene takes one of {', '.join(GENE_KEYS)}, got {', '.join(keys)}")
    kind = keys[0]
    extra = set(node) - {kind} - MODIFIERS[kind]
    if extra:
        allowed = ", ".join(sorted(MODIFIERS[kind])) or "nothing"
        raise SpaceError(path, f"unknown key {sorted(extra)[0]!r} in a {kind} gene (allowed beside it: {allowed})")
    tie = node.get("tie")
    if tie is not None and (not isinstance(tie, str) or not tie):
        raise SpaceError(path, f"tie must be a non-empty name, got {tie!r}")
    value = node[kind]
    if kind == "choice":
        if not isinstance(value, list) or not value:
            raise SpaceError(path, f"choice needs a non-empty list of options, got {value!r}")
        if len(value) > MAX_CHOICES:
            raise SpaceError(path, f"choice has {len(value):,} options (at most {MAX_CHOICES}); use an int or float range")
        labels = [option_label(o, i) for i, o in enumerate(value)]
        seen: set[str] = set()
        for label in labels:
            key = compact(label)
            if key in seen:
                raise SpaceError(path, f"choice options must differ; {label!r} appears twice")
            seen.add(key)
        return Choice(path, tie, labels=labels, raw=value)
    if kind == "int":
        low, high = _pair(value, path, "int", int)
        step = node.get("step", 1)
        log = node.get("log", False)
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise SpaceError(path, f"int step must be a positive integer, got {step!r}")
        if (high - low) % step:
            raise SpaceError(path, f"int range [{low}, {high}] is not a whole number of steps of {step}")
        if not isinstance(log, bool) or (log and (step != 1 or low < 1)):
            raise SpaceError(path, "log needs true/false, step 1 and low >= 1")
        return IntRange(path, tie, low=low, high=high, step=step, log=log)
    if kind == "float":
        low, high = _pair(value, path, "float", (int, float))
        step = node.get("step")
        log = node.get("log", False)
        if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0):
            raise SpaceError(path, f"float step must be positive, got {step!r}")
        if step is not None:
            k = (high - low) / step
            if not k <= MAX_STEPS:
                raise SpaceError(path, f"float range [{low}, {high}] has more than {MAX_STEPS:.0e} steps of {step}; drop the step for a continuous range")
            if abs(k - round(k)) > 1e-9:
                raise SpaceError(path, f"float range [{low}, {high}] is not a whole number of steps of {step}")
        if not isinstance(log, bool) or (log and (step is not None or low <= 0)):
            raise SpaceError(path, "log needs true/false, no step and low > 0")
        return FloatRange(path, tie, low=float(low), high=float(high), step=None if step is None else float(step), log=log)
    if kind == "subset":
        if not isinstance(value, list) or not value or has_genes(value):
            raise SpaceError(path, f"subset needs a non-empty list of plain values, got {value!r}")
        if len({compact(v) for v in value}) != len(value):
            raise SpaceError(path, f"subset items must differ, got {compact(value)}")
        size = node.get("size", [1, len(value)])
        lo, hi = (size, size) if isinstance(size, int) and not isinstance(size, bool) else _pair(size, path, "subset size", int)
        if not 1 <= lo <= hi <= len(value):
            raise SpaceError(path, f"subset size {size!r} must lie within 1..{len(value)}")
        members = sum(math.comb(len(value), n) for n in range(lo, hi + 1))
        if members > MAX_SUBSETS:
            count = f"{members:,}" if members < 10**12 else f"about 10^{len(str(members)) - 1}"
            raise SpaceError(path, f"subset has {count} members (more than {MAX_SUBSETS}); use a smaller set or size")
        labels = [compact(list(c)) for n in range(lo, hi + 1) for c in itertools.combinations(value, n)]
        return Subset(path, tie, items=value, sizes=(lo, hi), labels=labels)
    try:
        tree = expr_mod.parse_expr(value)
    except expr_mod.ExprError as err:
        raise SpaceError(path, str(err)) from None
    return Expr(path, None, text=value.strip(), tree=tree)
