"""Resolving a sampled space tree: derived expressions evaluated in dependency order, and helpers to compare
sampled values with a genotype's (JSON equality where 4 == 4.0 but True != 1, the first differing field)."""
from __future__ import annotations

import ast
import re
from typing import Any

from archspace.errors import join_path
from archspace.search import expr as expr_mod
from archspace.search.genes import Expr, SpaceError


class Pending:
    """A derived value waiting for the rest of the sample."""

    def __init__(self, gene: Expr):
        self.gene = gene


def _walk_path(data: Any, path: str) -> Any:
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            data = data[int(part[1:-1])]
        else:
            data = data[part]
    return data


class Resolver:
    """Evaluates the expressions of a sampled tree (each once, in dependency order)."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.busy: set[int] = set()

    def value(self, item: Any) -> Any:
        if not isinstance(item, Pending):
            return item
        gene = item.gene
        if id(item) in self.busy:
            raise SpaceError(gene.path, f"expression {gene.text!r} depends on itself")
        self.busy.add(id(item))

        def lookup(name: str) -> Any:
            if name == "stage" and gene.stage is not None:
                return gene.stage
            scopes = ([self.data["stages"][gene.stage]] if gene.stage is not None else []) + [self.data]
            for scope in scopes:
                try:
                    found = _walk_path(scope, name)
                except (KeyError, IndexError, TypeError):
                    continue
                return self.value(found)
            raise expr_mod.ExprError(f"names {name!r}, which the space does not set")

        try:
            result = expr_mod.evaluate(gene.tree, lookup)
        except expr_mod.ExprError as err:
            reason = str(err).removeprefix(f"{ast.unparse(gene.tree)!r}: ")  # the whole expression is named once
            raise SpaceError(gene.path, f"expression {gene.text!r}: {reason}") from None
        self.busy.discard(id(item))
        return result

    def tree(self, item: Any) -> Any:
        if isinstance(item, dict):
            return {k: self.tree(v) for k, v in item.items()}
        if isinstance(item, list):
            return [self.tree(v) for v in item]
        return self.value(item)


class EndTrial:
    """A stand-in for an Optuna trial that answers every gene with its first (`end` 0) or last (-1) value."""

    def __init__(self, end: int):
        self.end = end

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        return choices[self.end]

    def suggest_int(self, name: str, low: int, high: int, **_: Any) -> int:
        return (low, high)[self.end]

    def suggest_float(self, name: str, low: float, high: float, **_: Any) -> float:
        return (low, high)[self.end]


def first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first field path where two canonical dicts differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = first_difference(a.get(key), b.get(key), join_path(path, key))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else (path, a, b)


def same(a: Any, b: Any) -> bool:
    """Equality of JSON values where 4 == 4.0 but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b
