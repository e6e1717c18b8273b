"""Ops: one module per family; importing this package registers every builder."""
from archspace.ops import (  # noqa: F401  (imported for their registrations)
    attention,
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
from archspace.ops.registry import build_op, register, registered

__all__ = ["build_op", "register", "registered"]
