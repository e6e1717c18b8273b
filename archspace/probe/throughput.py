"""Inference throughput across resolutions (STM-evaluation §5.5, Table VIII).

The paper times 256/512/1024 px at batch 128/32/12 on a GPU. On a CPU the probe uses a scaled-down set
(224 px at batch 4, 448 px at batch 1) with a fixed thread count. Each point is timed by
archspace.cost.latency (warm-up, blocked repeats, median) and carries its device fingerprint.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from archspace.cost.latency import LatencySettings, device_fingerprint, measure_module
from archspace.errors import ArchspaceError
from archspace.genotype import Genotype

GPU_PAIRS = ((256, 128), (512, 32), (1024, 12))
CPU_PAIRS = ((224, 4), (448, 1))


def default_pairs(device: str) -> tuple[tuple[int, int], ...]:
    """The paper's (resolution, batch) pairs on a GPU, the scaled-down set on a CPU."""
    return GPU_PAIRS if device == "cuda" else CPU_PAIRS


def parse_pairs(text: str) -> tuple[tuple[int, int], ...]:
    """'256:128,512:32' -> ((256, 128), (512, 32))."""
    try:
        pairs = tuple((int(r), int(b)) for r, b in (item.split(":") for item in text.split(",")))
    except ValueError:
        raise ArchspaceError(f"pairs: expected RESOLUTION:BATCH[,...] such as 256:128,512:32, got {text!r}") from None
    if not pairs or any(r < 8 or b < 1 for r, b in pairs):
        raise ArchspaceError(f"pairs: resolutions must be >= 8 and batches >= 1, got {text!r}")
    return pairs


@dataclass(frozen=True)
class ThroughputPoint:
    """Images per second at one (resolution, batch); `skipped` says why a point could not be measured."""

    resolution: int
    batch: int
    images_per_s: float | None = None
    median_ms: float | None = None
    iqr_ms: float | None = None
    repeats: int | None = None
    skipped: str | None = None
    fingerprint: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def throughput(genotype: Genotype, pairs: Sequence[tuple[int, int]], device: str = "cpu", threads: int = 1,
               warmup: int = 3, min_run_time: float = 0.5) -> list[ThroughputPoint]:
    """Forward throughput of `genotype` (random weights) at each (resolution, batch); a resolution the
    genotype's map-tied genes do not fit, or one that runs out of memory, is recorded as skipped."""
    import torch

    from archspace.builder import build
    from archspace.probe.models import at_image_size

    points = []
    for resolution, batch in pairs:
        settings = LatencySettings(batch=batch, image_size=resolution, device=device, threads=threads, warmup=warmup, min_run_time=min_run_time)
        settings.check()
        try:
            net = build(at_image_size(genotype, resolution))
            lat = measure_module(net, (batch, genotype.in_chans, resolution, resolution), settings)
        except ArchspaceError as err:
            points.append(ThroughputPoint(resolution, batch, skipped=str(err), fingerprint=device_fingerprint(device, threads)))
            continue
        except torch.OutOfMemoryError:
            points.append(ThroughputPoint(resolution, batch, skipped="out of memory", fingerprint=device_fingerprint(device, threads)))
            continue
        points.append(ThroughputPoint(resolution, batch, batch * 1e3 / lat.median_ms, lat.median_ms, lat.iqr_ms, lat.repeats,
                                      fingerprint=lat.fingerprint))
    return points
