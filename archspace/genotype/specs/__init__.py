"""Every spec kind, one module per family; the schema assembles its unions from these tuples.

A family module exports any of MIXERS, FFNS, DOWNSAMPLES, STEMS, BLOCKS, HEADS.
"""
from __future__ import annotations

from archspace.genotype.specs import (
    attention,
    blocks,
    cont,
    conv,
    dcn,
    dmixer,
    downsample,
    ffn,
    heads,
    hmhsa,
    stems,
    window,
)

FAMILIES = (stems, downsample, blocks, heads, conv, ffn, hmhsa, cont, dmixer, attention, window, dcn)


def _collect(category: str) -> tuple[type, ...]:
    return tuple(spec for family in FAMILIES for spec in getattr(family, category, ()))


MIXERS = _collect("MIXERS")
FFNS = _collect("FFNS")
DOWNSAMPLES = _collect("DOWNSAMPLES")
STEMS = _collect("STEMS")
BLOCKS = _collect("BLOCKS")
HEADS = _collect("HEADS")
ALL_KINDS = {"mixer": MIXERS, "ffn": FFNS, "downsample": DOWNSAMPLES, "stem": STEMS, "block": BLOCKS, "head": HEADS}
