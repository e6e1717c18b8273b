"""Measured latency with torch.utils.benchmark: warm-up, fixed thread count, median and IQR of repeats.

Every result carries the device fingerprint (CPU or GPU model, threads, torch version) and the
settings it was measured under, so results from different machines are never mixed up.
"""
from __future__ import annotations

import logging
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any, Literal

import torch
from torch import nn

from archspace.errors import ArchspaceError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class LatencySettings:
    """How to measure: batch, input size (None: the genotype's), device, dtype, memory format, threads."""

    batch: int = 1
    image_size: int | None = None
    device: Literal["cpu", "cuda"] = "cpu"
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    channels_last: bool = False
    threads: int = 1
    warmup: int = 3
    min_run_time: float = 0.5
    min_repeats: int = 5

    def check(self) -> None:
        if self.device not in ("cpu", "cuda"):
            raise ArchspaceError(f"device: must be 'cpu' or 'cuda', got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ArchspaceError("device: 'cuda' requested but no CUDA device is present")
        if self.dtype not in DTYPES:
            raise ArchspaceError(f"dtype: must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.batch < 1 or self.threads < 1:
            raise ArchspaceError("batch and threads must be positive")

    def key(self) -> dict[str, Any]:
        """The settings that change a measurement (the cache key part)."""
        return {k: v for k, v in asdict(self).items() if k not in ("warmup", "min_run_time", "min_repeats")}


@cache
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_fingerprint(device: str = "cpu", threads: int = 1) -> dict[str, Any]:
    """What a measurement depends on besides the network: device model, threads, core count, torch version."""
    model = torch.cuda.get_device_name() if device == "cuda" else _cpu_model()
    return {"device": device, "model": model, "threads": threads, "cores": os.cpu_count(), "torch": torch.__version__}


def fingerprint_text(fp: dict[str, Any]) -> str:
    """One line: `cpu Intel(R) Xeon(R) Processor, 1 thread(s) of 2 cores, torch 2.x`."""
    return f"{fp['device']} {fp['model']}, {fp['threads']} thread(s) of {fp['cores']} cores, torch {fp['torch']}"


@dataclass(frozen=True)
class Latency:
    """Median and interquartile range of the per-forward time, in milliseconds."""

    median_ms: float
    iqr_ms: float
    repeats: int
    settings: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Latency:
        return cls(**data)


def prepare(module: nn.Module, shape: tuple[int, ...], settings: LatencySettings) -> tuple[nn.Module, torch.Tensor]:
    """The module in eval mode on the device, dtype and memory format of `settings`, and a zero input."""
    dtype = DTYPES[settings.dtype]
    memory_format = torch.channels_last if settings.channels_last and len(shape) == 4 else torch.contiguous_format
    module = module.eval().to(device=settings.device, dtype=dtype, memory_format=memory_format)
    x = torch.zeros(shape, device=settings.device, dtype=dtype).contiguous(memory_format=memory_format)
    return module, x


def _benchmark():
    """torch.utils.benchmark, imported without the CUDA_HOME warning its cpp_extension import logs on CPU machines."""
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    from torch.utils import benchmark

    return benchmark


def time_module(module: nn.Module, x: torch.Tensor, settings: LatencySettings) -> Latency:
    """Time `module(x)` (already prepared): warm-up calls, then blocked repeats for at least `min_run_time` s
    and at least `min_repeats` blocks; the median and interquartile range of the blocks' per-call times."""
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(settings.threads)
        with torch.inference_mode():
            for _ in range(settings.warmup):
                module(x)
            if settings.device == "cuda":
                torch.cuda.synchronize()
            timer = _benchmark().Timer(stmt="module(x)", globals={"module": module, "x": x}, num_threads=settings.threads)
            times = list(timer.blocked_autorange(min_run_time=settings.min_run_time).times)
            while len(times) < settings.min_repeats:  # a slow network: single runs until there are enough
                times.extend(timer.timeit(1).times)
    finally:
        torch.set_num_threads(previous)
    q1, median, q3 = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else (times[0],) * 3
    return Latency(median * 1e3, (q3 - q1) * 1e3, len(times), settings.key(), device_fingerprint(settings.device, settings.threads))


def measure_module(module: nn.Module, shape: tuple[int, ...], settings: LatencySettings | None = None) -> Latency:
    """Latency of one forward pass of `module` on a zero input of `shape` (batch included)."""
    settings = settings or LatencySettings()
    settings.check()
    module, x = prepare(module, shape, settings)
    return time_module(module, x, settings)


def measure_latency(genotype, settings: LatencySettings | None = None, cache=None) -> Latency:
    """Build `genotype` and measure its forward latency; with a ResultCache, a repeat is a lookup."""
    from archspace.builder import build
    from archspace.cost.cache import code_digest

    settings = settings or LatencySettings()
    settings.check()
    size = settings.image_size or genotype.image_size
    fp = device_fingerprint(settings.device, settings.threads)
    key = {**settings.key(), "image_size": size, "code": code_digest()}

    def compute() -> dict[str, Any]:
        return measure_module(build(genotype), (settings.batch, genotype.in_chans, size, size), settings).to_dict()

    if cache is None:
        return Latency.from_dict(compute())
    value, _ = cache.get_or_compute("latency", genotype.id, fp, key, compute)
    return Latency.from_dict(value)
