"""Specs of the dcn family (filled in by its issue)."""
from __future__ import annotations

MIXERS: tuple = ()
