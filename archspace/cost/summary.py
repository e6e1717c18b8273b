"""One genotype's costs in one record: what `archspace cost` prints and `archspace.cost(genotype)` returns."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from archspace.cost.analytic import analytic_cost
from archspace.cost.memory import analytic_memory

LatencyMode = Literal["measure", "predict", "none"]


@dataclass(frozen=True)
class CostSummary:
    """Params, FLOPs (analytic; fvcore when counted), latency (ms) and memory estimate (bytes) at `batch`."""

    name: str
    id: str
    image_size: int
    batch: int
    params: int
    flops: int
    fvcore_params: int | None = None
    fvcore_flops: int | None = None
    latency_ms: float | None = None
    latency_iqr_ms: float | None = None
    latency_source: str = "none"
    inference_memory_bytes: int = 0
    training_memory_bytes: int = 0
    measured_inference_memory_bytes: int | None = None
    device: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(
    genotype,
    batch: int = 1,
    latency: LatencyMode = "none",
    device: str = "cpu",
    threads: int = 1,
    fvcore: bool = False,
    cache=None,
    table=None,
) -> CostSummary:
    """Analytic cost and memory always; fvcore counts when `fvcore`; latency measured or predicted on `device`;
    on CUDA, the measured inference peak memory too.

    Costs are for `batch` images at the genotype's image size (params and FLOPs per image).
    `cache` (a ResultCache) makes a repeated measurement a lookup; `table` (a LatencyTable) is
    used for `latency="predict"` (default: the table for `device`; units it lacks are measured).
    """
    from archspace.errors import ArchspaceError

    if latency not in ("measure", "predict", "none"):
        raise ArchspaceError(f"latency: must be 'measure', 'predict' or 'none', got {latency!r}")
    total = analytic_cost(genotype).total
    memory = analytic_memory(genotype, batch)
    fv_params = fv_flops = None
    if fvcore:
        from archspace.builder import build
        from archspace.cost.counting import count_model

        counts = count_model(build(genotype), genotype.image_size, genotype.in_chans)
        fv_params, fv_flops = counts.params, counts.flops
    lat_ms = lat_iqr = None
    where = ""
    if latency != "none":
        from archspace.cost.latency import (
            LatencySettings,
            device_fingerprint,
            fingerprint_text,
            measure_latency,
        )

        settings = LatencySettings(batch=batch, device=device, threads=threads)
        where = fingerprint_text(device_fingerprint(device, threads))
        if latency == "measure":
            result = measure_latency(genotype, settings, cache)
            lat_ms, lat_iqr = result.median_ms, result.iqr_ms
        else:
            from archspace.cost.predictor import LatencyTable

            table = table or LatencyTable(settings)
            lat_ms = table.predict(genotype, measure_missing=True)
    measured_memory = None
    if device == "cuda":
        from archspace.cost.memory import measure_peak_memory

        measured_memory = measure_peak_memory(genotype, batch)
    return CostSummary(
        genotype.name, genotype.id, genotype.image_size, batch, total.params, total.flops, fv_params, fv_flops,
        lat_ms, lat_iqr, latency, memory.inference_bytes, memory.training_bytes, measured_memory, where,
    )
