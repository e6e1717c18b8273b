"""Latency predictor: a per-device lookup table of unit latencies, plus a fitted per-network overhead.

A network is cut into units exactly as the builder assembles it: the stem, each stage's downsample
layer, each block, each stage's output norm, and the head. A unit's key is the canonical JSON of
what builds it (its specs, the stage's norm/act/width, its input shape and stride) and the batch:
two networks that share a unit share its entry. Blocks are keyed by their index parity, since a
block's op may alternate between even and odd blocks (Swin shifts odd windows) but depends on
nothing else about its position.

prediction = sum over groups of scale[group] * (sum of the group's unit entries) + beta, the groups
being the blocks of each mixer kind and everything else; the scales and beta are fitted on measured
training networks by least squares on relative error, with a ridge pulling each scale towards 1
(they absorb the overhead between units and the cache effects a unit timed alone does not see,
which differ between op kinds). The ridge is chosen by leave-one-out error on the training networks,
and where no fit beats the plain sum of unit entries the table keeps the plain sum (scales 1, beta 0):
with noisy measurements a dozen free scales can fit the noise.

Tables are JSON files under `<cache dir>/latency/`, one per device fingerprint, settings and op
source (`code_digest`); a build saves after every unit, so an interrupted build resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from archspace.atomic import set_aside, write_json
from archspace.cost.cache import cache_dir, code_digest
from archspace.cost.latency import (
    LatencySettings,
    device_fingerprint,
    measure_latency,
    measure_module,
)
from archspace.errors import ArchspaceError

RIDGE = 0.1
RIDGES = (0.01, 0.1, 1.0, 10.0, 100.0)  # candidates for the leave-one-out choice


@dataclass(frozen=True)
class Unit:
    """One separately measurable piece of a network."""

    key: str
    what: str
    shape: tuple[int, int, int]
    make: Callable[[], nn.Module]
    group: str = "other"  # whose fitted scale applies: "block:<mixer kind>" for blocks, "other" otherwise


def _key(desc: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(desc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:20]


def _dump(spec) -> Any:
    return spec.model_dump(mode="json")


def _chw(shape) -> tuple[int, int, int]:
    return (shape.channels, shape.height, shape.width)


def units(genotype) -> list[Unit]:
    """The units of `genotype`, in execution order (identity layers left out)."""
    import archspace.builder  # noqa: F401  (registers every op and block)
    from archspace.genotype.plan import plan
    from archspace.ops.layers import norm_layer
    from archspace.ops.registry import build_op

    p = plan(genotype)
    g = genotype
    out = [Unit(_key({"what": "stem", "spec": _dump(g.stem), "input": _chw(p.image)}), "stem", _chw(p.image), lambda: build_op(g.stem, g.in_chans))]
    for stage, sp in zip(g.stages, p.stages):
        if sp.input != sp.downsampled or stage.downsample.kind not in ("none", "in_block"):
            desc = {"what": "downsample", "spec": _dump(stage.downsample), "input": _chw(sp.input), "output": _chw(sp.downsampled)}
            out.append(Unit(_key(desc), "downsample", _chw(sp.input), lambda s=stage, sp=sp: build_op(s.downsample, sp.input, sp.downsampled)))
        body = {k: v for k, v in _dump(stage).items() if k not in ("depth", "downsample", "drop_path", "out_norm")}
        for b in sp.blocks:
            desc = {"what": "block", "stage": body, "input": _chw(b.input), "stride": b.stride, "parity": b.index % 2}
            out.append(Unit(_key(desc), "block", _chw(b.input), lambda s=stage, b=b: build_op(s.block, s, b), f"block:{stage.mixer.kind}"))
        if stage.out_norm != "none":
            desc = {"what": "norm", "norm": stage.out_norm, "input": _chw(sp.output)}
            out.append(Unit(_key(desc), "norm", _chw(sp.output), lambda s=stage, sp=sp: norm_layer(s.out_norm)(sp.output.channels)))
    last = p.stages[-1].output
    desc = {"what": "head", "spec": _dump(g.head), "input": _chw(last), "num_classes": g.num_classes}
    out.append(Unit(_key(desc), "head", _chw(last), lambda: build_op(g.head, last, g.num_classes)))
    return out


def _progress(items: list, description: str, enabled: bool) -> Iterable:
    if not enabled:
        return items
    from rich.console import Console
    from rich.progress import track

    return track(items, description=description, console=Console(stderr=True), transient=False)


def fit_overhead(features: list[dict[str, float]], measured: list[float], ridge: float = RIDGE) -> tuple[dict[str, float], float]:
    """Scales per group and an intercept minimising the relative squared error, shrunk towards scale 1.

    `features[i][group]` is the sum of network i's unit entries in that group; the prediction is
    sum(scale[group] * features[group]) + beta. `ridge` pulls every scale towards 1 (not beta), so a
    group seen in few training networks keeps its table value.
    """
    import numpy as np

    groups = sorted({k for f in features for k in f})
    if len(measured) < 2 or not groups:
        return dict.fromkeys(groups, 1.0), 0.0
    x = np.array([[f.get(k, 0.0) for k in groups] + [1.0] for f in features])
    y = np.asarray(measured, dtype=float)
    a, b = x / y[:, None], np.ones_like(y)
    penalty = np.eye(len(groups) + 1)
    penalty[-1, -1] = 0.0
    prior = np.append(np.ones(len(groups)), 0.0)
    solution = np.linalg.lstsq(a.T @ a + ridge * penalty, a.T @ b + ridge * penalty @ prior, rcond=None)[0]
    return dict(zip(groups, solution[:-1].tolist())), float(solution[-1])


def _relative_error(scales: dict[str, float], beta: float, features: dict[str, float], measured: float) -> float:
    return abs(sum(scales.get(k, 1.0) * v for k, v in features.items()) + beta - measured) / measured


def choose_ridge(features: list[dict[str, float]], measured: list[float], ridges: Iterable[float] = RIDGES) -> float | None:
    """The ridge whose fit best predicts each training network left out (mean absolute relative error), or None
    when the plain sum of unit entries (scales 1, no intercept; nothing fitted) does at least as well."""
    n = len(measured)
    if n < 4:
        return RIDGE
    plain = sum(_relative_error({}, 0.0, f, m) for f, m in zip(features, measured)) / n

    def left_out_error(ridge: float) -> float:
        total = 0.0
        for i in range(n):
            scales, beta = fit_overhead(features[:i] + features[i + 1:], measured[:i] + measured[i + 1:], ridge)
            total += _relative_error(scales, beta, features[i], measured[i])
        return total / n

    errors = {ridge: left_out_error(ridge) for ridge in ridges}
    best = min(errors, key=errors.get)
    return None if plain <= errors[best] + 1e-12 else best


def _finite(value: Any) -> float:
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"non-finite number {value!r}")
    return out


def _read_table(path: Path) -> tuple[dict[str, float], dict[str, float], float, int, float | None]:
    """Entries, scales, beta, fitted_on and ridge of a saved table; ValueError/TypeError when it is not one."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    entries = {str(k): _finite(v) for k, v in data.get("entries", {}).items()}
    scales = {str(k): _finite(v) for k, v in data.get("scales", {}).items()}
    fitted_on = data.get("fitted_on", 0)
    if not isinstance(fitted_on, int):
        raise ValueError(f"fitted_on is {fitted_on!r}")
    ridge = data.get("ridge", RIDGE)
    return entries, scales, _finite(data.get("beta", 0.0)), fitted_on, None if ridge is None else _finite(ridge)


class LatencyTable:
    """Unit latencies (ms) for one device fingerprint and one set of settings, stored as JSON."""

    def __init__(self, settings: LatencySettings | None = None, path: str | Path | None = None):
        settings = settings or LatencySettings()
        settings.check()
        if settings.image_size is not None:
            raise ArchspaceError("image_size: a latency table measures each network at its own image size; leave it unset")
        self.settings = settings
        self.fingerprint = device_fingerprint(settings.device, settings.threads)
        ident = json.dumps({"fp": self.fingerprint, "settings": settings.key(), "code": code_digest()}, sort_keys=True)
        name = f"{settings.device}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}.json"
        self.path = Path(path) if path is not None else cache_dir() / "latency" / name
        self.entries: dict[str, float] = {}
        self.scales: dict[str, float] = {}
        self.beta, self.fitted_on = 0.0, 0
        self.ridge: float | None = RIDGE  # None: the plain sum of unit entries won the leave-one-out choice
        if self.path.is_file():
            try:
                self.entries, self.scales, self.beta, self.fitted_on, self.ridge = _read_table(self.path)
            except (OSError, ValueError, TypeError, AttributeError) as err:  # a torn or edited file: rebuild it
                set_aside(self.path, str(err).splitlines()[0] if str(err) else type(err).__name__)

    def save(self) -> None:
        """Write the table atomically (tmp file + rename)."""
        data = {"fingerprint": self.fingerprint, "settings": self.settings.key(), "entries": self.entries,
                "scales": self.scales, "beta": self.beta, "fitted_on": self.fitted_on, "ridge": self.ridge}
        write_json(self.path, data)

    def missing(self, genotypes: Iterable) -> list[Unit]:
        """Units of `genotypes` not in the table yet (each once)."""
        seen, out = set(self.entries), []
        for g in genotypes:
            for u in units(g):
                if u.key not in seen:
                    seen.add(u.key)
                    out.append(u)
        return out

    def measure_units(self, genotypes: Iterable, progress: bool = False, rounds: int = 1, refresh: bool = False) -> int:
        """Measure every unit of `genotypes` missing from the table (all of them with `refresh`), saving after each;
        returns how many.

        With `rounds` > 1 the units are measured in that many interleaved passes, and each keeps the lowest median
        (a refreshed one: the lowest of old and new): load from other processes only ever adds time."""
        genotypes = list(genotypes)
        todo = self.missing(genotypes)
        if refresh:
            keys = {u.key for u in todo}
            for g in genotypes:
                for u in units(g):
                    if u.key not in keys:
                        keys.add(u.key)
                        todo.append(u)
        for r in range(rounds):
            for u in _progress(todo, f"measuring units (pass {r + 1}/{rounds})" if rounds > 1 else "measuring units", progress):
                lat = measure_module(u.make(), (self.settings.batch, *u.shape), self.settings).median_ms
                self.entries[u.key] = min(lat, self.entries.get(u.key, lat)) if (r or refresh) else lat
                self.save()
        return len(todo)

    def group_sums(self, genotype) -> dict[str, float]:
        """Sum of the unit entries of `genotype` per group (ms); every unit must be in the table."""
        sums: dict[str, float] = {}
        for u in units(genotype):
            if u.key not in self.entries:
                raise ArchspaceError(f"{genotype.name}: unit {u.what} {u.key} is not in the latency table {self.path}; build it first")
            sums[u.group] = sums.get(u.group, 0.0) + self.entries[u.key]
        return sums

    def unit_sum(self, genotype) -> float:
        """Sum of the unit entries of `genotype` (ms)."""
        return sum(self.group_sums(genotype).values())

    def fit(self, genotypes: list, measured_ms: list[float]) -> None:
        """Fit the group scales and the intercept on measured networks (ridge chosen by leave-one-out), and save."""
        features = [self.group_sums(g) for g in genotypes]
        self.ridge = choose_ridge(features, list(measured_ms))
        if self.ridge is None:
            self.scales, self.beta = dict.fromkeys(sorted({k for f in features for k in f}), 1.0), 0.0
        else:
            self.scales, self.beta = fit_overhead(features, list(measured_ms), self.ridge)
        self.fitted_on = len(genotypes)
        self.save()

    def predict(self, genotype, measure_missing: bool = False, rounds: int = 1) -> float:
        """Predicted latency in ms; with `measure_missing`, units not in the table are measured first."""
        if measure_missing:
            self.measure_units([genotype], rounds=rounds)
        return sum(self.scales.get(k, 1.0) * v for k, v in self.group_sums(genotype).items()) + self.beta


def measure_networks(genotypes: list, settings: LatencySettings, rounds: int = 1, progress: bool = False) -> list[float]:
    """Each network's latency (ms) as the lowest median of `rounds` interleaved passes over all of them."""
    best = [float("inf")] * len(genotypes)
    for r in range(rounds):
        label = f"measuring networks (pass {r + 1}/{rounds})" if rounds > 1 else "measuring networks"
        for i, g in enumerate(_progress(genotypes, label, progress)):
            best[i] = min(best[i], measure_latency(g, settings).median_ms)
    return best


def build_table(genotypes: list, settings: LatencySettings | None = None, path: str | Path | None = None,
                progress: bool = False, cache=None, rounds: int = 1) -> LatencyTable:
    """Measure the units of `genotypes`, measure the networks themselves, fit the overhead; resumable.

    `rounds` > 1 measures units and networks in that many interleaved passes, keeping each one's minimum
    (robust to load from other processes); with 1, network latencies come from `cache` when given."""
    table = LatencyTable(settings, path)
    settings = table.settings
    table.measure_units(genotypes, progress, rounds)
    if rounds > 1:
        measured = measure_networks(genotypes, settings, rounds, progress)
    else:
        measured = [measure_latency(g, settings, cache).median_ms for g in _progress(genotypes, "measuring networks", progress)]
    table.fit(genotypes, measured)
    return table


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman rank correlation (average ranks for ties); 0 when either side is constant."""
    import pandas as pd

    rho = pd.DataFrame({"a": a, "b": b}).corr(method="spearman").iloc[0, 1]
    return 0.0 if pd.isna(rho) else float(rho)
