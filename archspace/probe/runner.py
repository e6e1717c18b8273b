"""Run the chosen analyses on each model, on the same images, and collect every figure."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from archspace.probe.data import ProbeData, load_probe_data, normalize
from archspace.probe.erf import StageERF, erf, stage_outputs
from archspace.probe.fgsm import EPSILONS, FGSMResult, fgsm
from archspace.probe.invariance import InvarianceCurve, invariance
from archspace.probe.models import Normalized, at_image_size, build_probe_model, checkpoint_classes, load_state_dict, resolve_genotype
from archspace.probe.throughput import ThroughputPoint, default_pairs, throughput

ANALYSES = ("erf", "invariance", "fgsm", "throughput")


@dataclass(frozen=True)
class ProbeSettings:
    """What to run and on what: analyses, data, input size (None: each genotype's), image count, device."""

    analyses: tuple[str, ...] = ("erf", "invariance", "fgsm")
    data: str = "digits"
    image_size: int | None = None
    images: int = 32
    batch: int = 16
    seed: int = 0
    device: str = "cpu"
    threads: int = 1
    pairs: tuple[tuple[int, int], ...] | None = None
    epsilons: tuple[float, ...] = EPSILONS

    def to_dict(self) -> dict:
        return {**self.__dict__, "pairs": [list(p) for p in (self.pairs or default_pairs(self.device))]}


@dataclass
class ModelProbe:
    """Every figure of one model; an analysis that could not run says why in `skipped`."""

    model: str
    genotype_id: str
    image_size: int
    num_classes: int
    weights: str | None
    data: str
    erf: list[StageERF] | None = None
    invariance: dict[str, InvarianceCurve] | None = None
    fgsm: FGSMResult | None = None
    throughput: list[ThroughputPoint] | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "genotype_id": self.genotype_id, "image_size": self.image_size, "num_classes": self.num_classes,
            "weights": self.weights, "data": self.data,
            "erf": [s.to_dict() for s in self.erf] if self.erf is not None else None,
            "invariance": {t: c.to_dict() for t, c in self.invariance.items()} if self.invariance is not None else None,
            "fgsm": self.fgsm.to_dict() if self.fgsm is not None else None,
            "throughput": [p.to_dict() for p in self.throughput] if self.throughput is not None else None,
            "skipped": self.skipped,
        }


def _log(message: str) -> None:
    """Progress on stderr (rich, timestamped), so stdout stays the tables or the JSON."""
    from rich.console import Console

    Console(stderr=True, highlight=False).print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def probe_model(model: str, settings: ProbeSettings, weights: str | None = None,
                data_cache: dict | None = None, log: Callable[[str], None] = _log) -> ModelProbe:
    """Run `settings.analyses` on one genotype file or zoo name (random seeded weights, or `weights`)."""
    genotype = resolve_genotype(model)
    size = settings.image_size or genotype.image_size
    cache = data_cache if data_cache is not None else {}
    key = (size, genotype.in_chans)
    if key not in cache:
        cache[key] = load_probe_data(settings.data, size, genotype.in_chans, settings.images, settings.seed)
    data: ProbeData = cache[key]
    state = load_state_dict(weights) if weights else None
    classes = (checkpoint_classes(state) if state else None) or data.num_classes
    placed = at_image_size(genotype, size, classes)
    net = build_probe_model(placed, state, weights, settings.seed).to(settings.device)
    images, labels = data.images.to(settings.device), data.labels.to(settings.device)
    labels_fit = data.num_classes == classes  # a head for other classes (e.g. ImageNet's 1000) makes accuracy meaningless
    result = ModelProbe(genotype.name, genotype.id, size, classes, weights, data.name)
    pixel_model = Normalized(net)
    if not labels_fit and {"invariance", "fgsm"} & set(settings.analyses):
        result.skipped["accuracy"] = f"the data has {data.num_classes} classes but the model's head predicts {classes}"
    if "erf" in settings.analyses:
        log(f"{genotype.name}: ERF of {len(net.stages)} stages on {len(images)} images at {size}px")
        result.erf = [StageERF(s.stage, s.map.cpu(), s.sides) for s in erf(stage_outputs(net), normalize(images), settings.batch)]
    if "invariance" in settings.analyses:
        log(f"{genotype.name}: translation / rotation / scale sweeps")
        result.invariance = invariance(pixel_model, images, labels if labels_fit else None, batch=settings.batch)
    if "fgsm" in settings.analyses:
        if labels_fit:
            log(f"{genotype.name}: FGSM at eps {', '.join(f'{e:g}/255' for e in settings.epsilons)}")
            result.fgsm = fgsm(pixel_model, images, labels, settings.epsilons, settings.batch)
        else:
            result.skipped["fgsm"] = "needs labels that fit the head (see accuracy)"
    if "throughput" in settings.analyses:
        pairs = settings.pairs or default_pairs(settings.device)
        log(f"{genotype.name}: throughput at {', '.join(f'{r}px x{b}' for r, b in pairs)} on {settings.device}, {settings.threads} thread(s)")
        result.throughput = throughput(genotype, pairs, settings.device, settings.threads)
    return result


def run_probe(models: Sequence[str], settings: ProbeSettings, weights: Sequence[str | None] | None = None,
              log: Callable[[str], None] = _log) -> list[ModelProbe]:
    """Probe every model on the same images (one image set per input size and channel count)."""
    weights = list(weights) if weights is not None else [None] * len(models)
    cache: dict = {}
    previous = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        results = []
        for i, (model, w) in enumerate(zip(models, weights), 1):
            log(f"[{i}/{len(models)}] {model}")
            results.append(probe_model(model, settings, w, cache, log))
        return results
    finally:
        torch.set_num_threads(previous)
