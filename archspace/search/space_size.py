"""The size of a search space: log10 of its distinct parameter assignments, counted over the gene tree."""
from __future__ import annotations

import itertools
import math

from archspace.search.genes import Choice, Expr, Fixed, Gene, Mapping, Node, Sequence


def log10_size(root: Node, genes: list[Gene]) -> tuple[float, str]:
    """log10 of the number of distinct parameter assignments, and "counted" or "estimated".

    Counted exactly over the tree (a choice sums its options, everything else multiplies); a tied gene
    counts once. Estimated (an upper bound) when a tied gene sits inside a conditional branch, since
    it may then be counted where it is not active. Infinite with a continuous float gene.
    """
    groups: dict[str, list[Gene]] = {}
    for gene in genes:
        if gene.tie:
            groups.setdefault(gene.name, []).append(gene)
    exact = all(any(not g.conditions for g in members) for members in groups.values())
    spec_ties = {n: m for n, m in groups.items() if isinstance(m[0], Choice) and _has_inner_genes(m[0])}
    log = sum(math.log10(m[0].count()) for n, m in groups.items() if n not in spec_ties)
    if spec_ties:
        log += _log10_spec_ties(root, spec_ties, set(groups))
    else:
        log += _log10(root, set(groups))
    return log, "counted" if exact else "estimated"


def _has_inner_genes(choice: Choice) -> bool:
    return any(not isinstance(o, Fixed) for o in choice.options)


def _log10(node: Node, tied: set[str], fixed: dict[str, int] | None = None) -> float:
    """log10 count of a subtree; tied genes count 1 here (their factor is added once by the caller)."""
    if isinstance(node, Fixed) or isinstance(node, Expr):
        return 0.0
    if isinstance(node, (Mapping, Sequence)):
        items = node.items.values() if isinstance(node, Mapping) else node.items
        return sum(_log10(c, tied, fixed) for c in items)
    assert isinstance(node, Gene)
    if isinstance(node, Choice):
        if fixed is not None and node.name in fixed:
            return _log10(node.options[fixed[node.name]], tied, fixed)
        logs = [_log10(o, tied, fixed) for o in node.options]
        return max(logs) if node.name in tied else _log_sum(logs)
    count = node.count()
    if math.isinf(count):
        return math.inf
    return 0.0 if node.name in tied else math.log10(count)


def _log10_spec_ties(root: Node, spec_ties: dict[str, list[Gene]], tied: set[str]) -> float:
    """Sum over every label combination of the tied spec choices (their branches differ per label)."""
    names = list(spec_ties)
    combos = itertools.product(*(range(len(spec_ties[n][0].labels)) for n in names))
    return _log_sum([_log10(root, tied, dict(zip(names, combo))) for combo in combos])


def _log_sum(logs: list[float]) -> float:
    """log10 of a sum of numbers given as log10s."""
    top = max(logs)
    if math.isinf(top):
        return math.inf
    return top + math.log10(sum(10 ** (x - top) for x in logs))
