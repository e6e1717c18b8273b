"""Compiling a search-space template (plain data with gene mappings) into a node tree and its genes."""
from __future__ import annotations

import re
from typing import Any

from archspace.errors import join_path
from archspace.search.gene_parse import parse_gene
from archspace.search.genes import Choice, Expr, Fixed, Gene, Mapping, Node, Sequence, has_genes, is_gene

_STAGE = re.compile(r"^stages\[(\d+)\]")


def _stage_of(path: str) -> int | None:
    m = _STAGE.match(path)
    return int(m.group(1)) if m else None


class Compiler:
    """Turns a template (plain data with gene mappings) into a node tree, collecting every gene."""

    def __init__(self, stages: int):
        self.stages = stages
        self.genes: list[Gene] = []

    def node(self, value: Any, path: str, conditions: tuple[tuple[str, Any], ...], suffix: str) -> Node:
        if is_gene(value):
            return self.gene(value, path, conditions, suffix)
        if not has_genes(value):
            return Fixed(value)
        if isinstance(value, dict):
            return Mapping({k: self.node(v, join_path(path, k), conditions, suffix) for k, v in value.items()})
        return Sequence([self.node(v, f"{path}[{i}]", conditions, suffix) for i, v in enumerate(value)])

    def gene(self, value: dict[str, Any], path: str, conditions: tuple[tuple[str, Any], ...], suffix: str) -> Gene:
        gene = parse_gene(value, path)
        gene.conditions, gene.stages = conditions, self.stages
        self.genes.append(gene)
        if isinstance(gene, Choice):
            by_kind = all(isinstance(o, dict) and "kind" in o for o in gene.raw)
            gene.name = (join_path(path, "kind") if by_kind else path) + suffix
            gene.options = [
                self.node(option, path, conditions + ((gene.name, label),), f"{suffix}@{label}")
                for option, label in zip(gene.raw, gene.labels)
            ]
        else:
            gene.name = path + suffix
        if isinstance(gene, Expr):
            gene.stage = _stage_of(path)
        return gene


def tied_name(genes: list[Gene], tie: str) -> str:
    """One parameter name for tied genes: `stages[*].x` over all stages, `stages[1,2].x` over some, else the tie."""
    keys = {_STAGE.sub("stages[#]", g.name) for g in genes}
    indices = sorted({_stage_of(g.name) for g in genes} - {None})
    if len(keys) != 1 or not indices or any(_stage_of(g.name) is None for g in genes):
        return tie
    every = indices == list(range(genes[0].stages)) and all(g.stages == genes[0].stages for g in genes)
    return keys.pop().replace("stages[#]", "stages[*]" if every else f"stages[{','.join(map(str, indices))}]", 1)
