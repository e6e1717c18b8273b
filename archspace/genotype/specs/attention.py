"""Specs of the attention family (filled in by its issue)."""
from __future__ import annotations

MIXERS: tuple = ()
