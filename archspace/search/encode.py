"""Encoding a genotype as a space's parameters: walk the space tree beside the genotype, binding each gene's parameter."""
from __future__ import annotations

from typing import Any

from archspace.errors import join_path
from archspace.genotype.io import PROVENANCE_FIELDS
from archspace.search.genes import Choice, Expr, Fixed, Gene, Mapping, Node, Sequence
from archspace.search.resolve import same


class Mismatch(Exception):
    """The genotype leaves the space at `path`, for `reason`."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason


def match(node: Node, value: Any, params: dict[str, Any], path: str) -> None:
    if isinstance(node, Fixed):
        if not same(node.value, value):
            raise Mismatch(path, f"the genotype has {value!r}; the space fixes {node.value!r}")
        return
    if isinstance(node, Mapping):
        if not isinstance(value, dict):
            raise Mismatch(path, f"the genotype has {value!r}; the space has a mapping")
        for key, child in node.items.items():
            if not path and key in PROVENANCE_FIELDS:
                continue
            if key not in value:
                raise Mismatch(join_path(path, key), "the space sets a field the genotype does not have")
            match(child, value[key], params, join_path(path, key))
        return
    if isinstance(node, Sequence):
        if not isinstance(value, list) or len(value) != len(node.items):
            raise Mismatch(path, f"the genotype has {value!r}; the space has {len(node.items)} entries")
        for i, child in enumerate(node.items):
            match(child, value[i], params, f"{path}[{i}]")
        return
    if isinstance(node, Expr):
        return  # checked by sampling the parameters back
    assert isinstance(node, Gene)
    if isinstance(node, Choice):
        _match_choice(node, value, params, path)
        return
    try:
        param = node.param_of(value)
    except ValueError as err:
        raise Mismatch(path, str(err)) from None
    _bind(node, param, params, path)

def _match_choice(node: Choice, value: Any, params: dict[str, Any], path: str) -> None:
    kind = value.get("kind") if isinstance(value, dict) else None
    order = [i for i, o in enumerate(node.raw) if not (isinstance(o, dict) and "kind" in o and o["kind"] != kind)]
    failure: Mismatch | None = None
    for i in order:
        trial = dict(params)
        try:
            _bind(node, node.labels[i], trial, path)
            match(node.options[i], value, trial, path)
        except Mismatch as err:
            failure = failure or err
            continue
        params.clear()
        params.update(trial)
        return
    if failure is not None and (kind is not None or len(order) == 1):
        raise failure
    shown = value.get("kind") if isinstance(value, dict) else value
    raise Mismatch(path, f"the genotype has {shown!r}, not among {node.domain()}")

def _bind(gene: Gene, param: Any, params: dict[str, Any], path: str) -> None:
    if gene.name in params and not same(params[gene.name], param):
        raise Mismatch(path, f"tied gene {gene.name!r} is {params[gene.name]!r} elsewhere but {param!r} here")
    params[gene.name] = param
