"""The probe's analyses (ERF@50, invariance, FGSM robustness; STM evaluation §6) as evaluator metrics.

A search objective such as `{name: "fgsm_acc@2/255", direction: maximize}` is computed by
`archspace.probe.metrics.probe_metric` on the evaluator's model (initialised for a proxy evaluator,
trained for a training evaluator) and on the first `PROBE_IMAGES` images of the evaluator's
validation set, mapped back to pixel space with the data's own normalisation, so FGSM's eps is in
pixel units and the network sees exactly what the score was computed on.
"""
from __future__ import annotations

import torch

from archspace.errors import ArchspaceError
from archspace.evaluate.data import DataBundle

PROBE_IMAGES = 128


def is_probe_objective(name: str) -> bool:
    from archspace.probe.metrics import is_probe_metric

    return is_probe_metric(name)


def validation_pixels(bundle: DataBundle, count: int = PROBE_IMAGES) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` validation images in pixel space [0, 1] (un-normalised with the bundle's mean/std) and their labels."""
    if bundle.mean is None or bundle.std is None:
        raise ArchspaceError(f"metrics: data {bundle.name!r} does not record its normalisation, so probe metrics cannot map it to pixels")
    items = [bundle.val[i] for i in range(min(count, len(bundle.val)))]
    if not items:
        raise ArchspaceError(f"metrics: data {bundle.name!r} has no validation images")
    images = torch.stack([torch.as_tensor(x) for x, _ in items])
    labels = torch.as_tensor([int(y) for _, y in items], dtype=torch.long)
    c = images.shape[1]
    mean = torch.tensor(bundle.mean, dtype=images.dtype).view(1, -1, 1, 1).expand(1, c, 1, 1)
    std = torch.tensor(bundle.std, dtype=images.dtype).view(1, -1, 1, 1).expand(1, c, 1, 1)
    return (images * std + mean).clamp(0, 1), labels


def probe_objective(name: str):
    """The evaluator metric computing probe figure `name` (see archspace.probe.metrics)."""
    from archspace.probe.metrics import probe_metric

    def metric(ctx) -> float:
        images, labels = validation_pixels(ctx.bundle)
        return probe_metric(name, ctx.model, images.to(ctx.device), labels.to(ctx.device),
                            mean=ctx.bundle.mean, std=ctx.bundle.std)

    return metric
