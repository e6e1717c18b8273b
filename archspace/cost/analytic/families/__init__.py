"""Closed forms, one module per op family (mirrors archspace.ops)."""
from archspace.cost.analytic.families import (  # noqa: F401  (imported for their registrations)
    attention,
    blocks,
    cont,
    conv,
    dcn,
    dmixer,
    downsample,
    ffn,
    head,
    hmhsa,
    stem,
    window,
)
