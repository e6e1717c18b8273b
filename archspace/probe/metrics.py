"""The probe's analyses as single numbers, for a search evaluator to use as objectives beside the score.

`probe_metric(name, model, images, labels)` takes the evaluator's model (a timm-API network in eval mode
or not; it is put in eval mode) and labelled images in pixel space [0, 1] (the network input is
normalised here with `mean`/`std`, ImageNet's by default), and returns a float. Names:

| name | meaning | better |
|---|---|---|
| `erf50` | ERF@50 of the last stage (side ratio, §6.1) | either (a search chooses) |
| `erf50_stage<k>` | ERF@50 of stage k (1-based) | either |
| `clean_acc` | accuracy on the images | higher |
| `fgsm_acc@<e>/255` | accuracy under FGSM at eps = e/255, e.g. `fgsm_acc@2/255` (§6.3) | higher |
| `invariance_<t>` | prediction consistency under transform t (translation, rotation, scale), mean over the paper's sweep, identity left out (§6.2) | higher |
| `invariance_<t>_cos` | cosine similarity of pooled features under t, same mean | higher |
| `invariance_<t>_acc` | accuracy under t, same mean | higher |
"""
from __future__ import annotations

import re

import torch
from timm.data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch import nn

from archspace.errors import ArchspaceError
from archspace.probe.data import normalize
from archspace.probe.erf import erf_side, gradient_maps, stage_outputs
from archspace.probe.fgsm import check_labels, fgsm
from archspace.probe.invariance import TRANSFORMS, default_values, sweep
from archspace.probe.models import Normalized

METRIC_NAMES = ("erf50", "erf50_stage<k>", "clean_acc", "fgsm_acc@<e>/255",
                *(f"invariance_{t}{s}" for t in TRANSFORMS for s in ("", "_cos", "_acc")))
_FGSM = re.compile(r"fgsm_acc@([0-9.]+)/255$")
_ERF = re.compile(r"erf50(?:_stage([0-9]+))?$")
_INVARIANCE = re.compile(rf"invariance_({'|'.join(TRANSFORMS)})(_cos|_acc)?$")


def is_probe_metric(name: str) -> bool:
    """Whether `name` is one of the probe figures of the module table."""
    return name == "clean_acc" or any(p.match(name) for p in (_FGSM, _ERF, _INVARIANCE))


def metric_direction(name: str) -> str:
    """'maximize' for accuracies and invariances; ERF@50 has no better side ('either')."""
    return "either" if _ERF.match(name) else "maximize"


def probe_metric(name: str, model: nn.Module, images: torch.Tensor, labels: torch.Tensor | None = None,
                 mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD, batch: int = 16) -> float:
    """One probe figure of `model` on `images` (N, C, H, W in [0, 1]) and `labels`; see the module table for names."""
    model = model.eval()
    pixel = Normalized(model, mean, std)
    if m := _ERF.match(name):
        maps = gradient_maps(stage_outputs(model), normalize(images, mean, std), batch)
        k = int(m.group(1)) if m.group(1) else len(maps)
        if not 1 <= k <= len(maps):
            raise ArchspaceError(f"metric {name!r}: the model has stages 1..{len(maps)}")
        return erf_side(maps[k - 1], 0.5)
    needs_labels = name == "clean_acc" or _FGSM.match(name) or name.endswith("_acc")
    if needs_labels:
        if labels is None:
            raise ArchspaceError(f"metric {name!r} needs labels")
        check_labels(labels, model.num_classes, f"metric {name!r}")
    if name == "clean_acc":
        return fgsm(pixel, images, labels, (), batch).clean
    if m := _FGSM.match(name):
        eps = float(m.group(1))
        return fgsm(pixel, images, labels, (eps,), batch).adversarial[eps]
    if m := _INVARIANCE.match(name):
        transform, series = m.group(1), {None: "agreement", "_cos": "cosine", "_acc": "accuracy"}[m.group(2)]
        curve = sweep(pixel, images, transform, default_values(transform, images.shape[-1]), labels if series == "accuracy" else None, batch)
        return curve.mean(series)
    raise ArchspaceError(f"metric: unknown probe metric {name!r}; known: {', '.join(METRIC_NAMES)}")


def probe_metrics(names: list[str], model: nn.Module, images: torch.Tensor, labels: torch.Tensor | None = None, **kwargs) -> dict[str, float]:
    """Several probe figures at once, keyed by name (extra keys for an evaluator's result dict)."""
    return {name: probe_metric(name, model, images, labels, **kwargs) for name in names}
