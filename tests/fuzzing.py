"""Hypothesis strategies for hostile and mutated documents, reusable for any file archspace reads.

`mutated(bases)` takes plain-data documents (genotypes now; search spaces and search configs later)
and applies 1-3 mutations at random paths: type swaps, out-of-range, huge, negative and non-finite
numbers, removed and unknown fields, wrong `kind`s, dropped or repeated list items, nested junk.
`mutated_text(texts)` damages serialized files byte-wise (truncation, stray bytes, non-UTF-8).
`check_refusal` is the one rule every refusal must meet.
"""
from __future__ import annotations

import copy
import json
import math
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from archspace.errors import ArchspaceError, GenotypeError

ROOT = Path(__file__).resolve().parent.parent
HUGE = (10**6, 10**9, 10**12, 10**18, 2**63, 10**40)
KNOWN_KINDS = ("scsc", "hmhsa", "cont", "dmixer", "swin", "halo", "sra", "dwconv", "dcnv3", "mhsa", "conv", "mlp", "irb",
               "resnet", "convs", "patchify", "metaformer", "bottleneck", "none", "in_block", "patch_merge", "linear")


@lru_cache(maxsize=1)
def shipped_genotypes() -> dict[str, dict[str, Any]]:
    """Every published genotype file, as plain data."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((ROOT / "genotypes").glob("*.json"))}


@lru_cache(maxsize=1)
def random_genotypes(n: int = 24) -> tuple[dict[str, Any], ...]:
    """Valid random genotypes at small sizes (56-64 px, widths <= 128), as plain data."""
    from archspace.cost.random import random_genotype
    from archspace.genotype.io import canonical_dict

    return tuple(canonical_dict(random_genotype(random.Random(seed), name=f"random{seed}")) for seed in range(n))


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys and indices) in a plain-data document, the root included."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


def junk() -> st.SearchStrategy:
    """Values of every JSON kind (and a few non-JSON floats), nested a little."""
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.sampled_from(HUGE),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.sampled_from(KNOWN_KINDS),
    )
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def _swap(value: Any) -> st.SearchStrategy:
    """Values of the wrong type (or out of range) for where `value` stood."""
    options: list[Any] = [None, str(value), [value], {"value": value}]
    if isinstance(value, bool):
        options += [int(value), "yes", "true"]
    elif isinstance(value, int):
        options += [float(value), value + 0.5, -value, 0, -1, value * 2 + 1, *HUGE, float("nan"), float("inf"), -float("inf")]
    elif isinstance(value, float):
        options += [int(value) if math.isfinite(value) else 1, -value, 0.0, 1e308, float("nan"), float("inf"), -1e-9, 2.0]
    elif isinstance(value, str):
        options += [0, "", value.upper(), value + "x", *KNOWN_KINDS]
    elif isinstance(value, list):
        options += [value[:1], value * 3, list(reversed(value)), [], {str(i): v for i, v in enumerate(value)}]
    elif isinstance(value, dict):
        options += [list(value.values()), {}, {**value, "kind": "nope"}]
    return st.sampled_from(options)


def _nudge(value: int | float) -> st.SearchStrategy:
    """A neighbouring value of the same type (often still valid)."""
    if isinstance(value, int):
        return st.sampled_from([value + 1, max(value - 1, 0), value * 2, value // 2, value * 3])
    return st.sampled_from([value * 0.5, value * 2, value + 0.1, max(value - 0.1, 0.0)])


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def mutation(draw: st.DrawFn, doc: Any) -> Any:
    """`doc` with one mutation at a random path (the input is not changed)."""
    doc = copy.deepcopy(doc)
    where = draw(st.sampled_from(paths(doc)))
    op = draw(st.sampled_from(["nudge", "nudge", "swap", "swap", "swap", "junk", "remove", "add", "kind", "list", "nested"]))
    if not where:
        return draw(junk()) if op == "junk" else doc
    parent = doc
    for part in where[:-1]:
        parent = parent[part]
    key, value = where[-1], parent[where[-1]]
    if op == "nudge" and isinstance(value, (int, float)) and not isinstance(value, bool):
        parent[key] = draw(_nudge(value))
    elif op == "swap":
        parent[key] = draw(_swap(value))
    elif op == "junk":
        parent[key] = draw(junk())
    elif op == "remove":
        del parent[key]
    elif op == "add" and isinstance(value, dict):
        value[draw(st.sampled_from(["extra", "kind", "channels", "depth", "ratio", draw(st.text(max_size=6))]))] = draw(junk())
    elif op == "kind" and isinstance(value, dict):
        value["kind"] = draw(st.sampled_from(KNOWN_KINDS))
    elif op == "list" and isinstance(value, list) and value:
        i = draw(st.integers(0, len(value) - 1))
        value.insert(i, copy.deepcopy(value[i])) if draw(st.booleans()) else value.pop(i)
    elif op == "nested":
        parent[key] = _nested(draw(st.sampled_from([2, 10, 70, 500])))
    else:
        parent[key] = draw(_swap(value))
    return doc


@st.composite
def mutated(draw: st.DrawFn, bases: list[Any] | tuple[Any, ...], max_mutations: int = 3) -> Any:
    """One of `bases` with 1..max_mutations mutations."""
    doc = draw(st.sampled_from(list(bases)))
    for _ in range(draw(st.integers(1, max_mutations))):
        doc = draw(mutation(doc))
    return doc


@st.composite
def mutated_text(draw: st.DrawFn, texts: list[str]) -> bytes:
    """A serialized document damaged byte-wise."""
    data = draw(st.sampled_from(texts)).encode()
    op = draw(st.sampled_from(["truncate", "insert", "flip", "repeat", "invalid_utf8"]))
    i = draw(st.integers(0, max(len(data) - 1, 0)))
    if op == "truncate":
        return data[:i]
    if op == "insert":
        return data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    if op == "flip":
        return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    if op == "repeat":
        return data[:i] + data[i:i + 64] * draw(st.integers(2, 50)) + data[i:]
    return data[:i] + b"\xff\xfe\xc3" + data[i:]


def check_refusal(err: Exception, data: Any = None) -> None:
    """A refusal is one of our errors, one line long, naming the field unless the whole document is wrong."""
    assert isinstance(err, ArchspaceError), f"{type(err).__name__} escaped: {err}"
    text = str(err)
    assert text and "\n" not in text, f"not one line: {text!r}"
    if isinstance(err, GenotypeError) and isinstance(data, dict):
        assert err.path, f"no field named: {text}"
