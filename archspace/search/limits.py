"""Limits of a search config's values, checked before anything is allocated: budgets (finite, above 0),
the evaluation data's image size, and the local worker count (the cores this process may run on).

Each check names the rule broken in one line; the config (archspace.search.config) applies them.
"""
from __future__ import annotations

import math
import os
import re
from typing import Any

MAX_DATA_IMAGE_SIZE = 1024  # px: the largest input a search evaluates its data at (a genotype alone may reach 16384)
MAX_IN_MEMORY_IMAGE_SIZE = 256  # px: the in-memory sets (digits: 1,797 upsampled 8x8 images) are held whole, 4 bytes a pixel
IN_MEMORY_DATA = ("digits", "digit_lookup", "digit_twins")
_SI = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def parse_amount(value: Any) -> Any:
    """1.8e9, 1800000000 or "1.8G" -> 1.8e9 (k/K, M, G, T suffixes); a budget is a finite amount above 0 (one line
    saying which rule it breaks); anything else is left to pydantic."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([-+]?)([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKMGT]?)\s*", value)
        if not m:
            raise ValueError(f"{value!r} is not a number (suffixes k, M, G, T allowed, e.g. '1.8G')")
        value = float(m.group(2)) * _SI[m.group(3)] * (-1 if m.group(1) == "-" else 1)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value} (leave the budget out for no limit)")
        if value <= 0:
            raise ValueError(f"is {'negative' if value < 0 else 'zero'} ({value:g}); a budget is an upper limit above 0")
    return value


def check_data_size(value: Any) -> Any:
    """data.image_size within the evaluation limits, before any image is resized (the data loader validates the rest)."""
    size = value.get("image_size") if isinstance(value, dict) else None
    if isinstance(size, int) and not isinstance(size, bool):
        name = value.get("name", "digits")
        if name in IN_MEMORY_DATA and size > MAX_IN_MEMORY_IMAGE_SIZE:
            raise ValueError(f"image_size {size} is over {MAX_IN_MEMORY_IMAGE_SIZE} px, the most for {name} (held in memory whole)")
        if size > MAX_DATA_IMAGE_SIZE:
            raise ValueError(f"image_size {size} is over {MAX_DATA_IMAGE_SIZE} px, the largest a search evaluates at")
    return value


def usable_workers(workers: int) -> tuple[int, str | None]:
    """Local worker processes this machine can run: at most one per core this process may run on (sched_getaffinity);
    returns the count and, when `workers` was capped, the line that says so."""
    cores = len(os.sched_getaffinity(0))
    if workers <= cores:
        return workers, None
    return cores, f"workers: {workers} capped at {cores}, the cores this process may run on"
