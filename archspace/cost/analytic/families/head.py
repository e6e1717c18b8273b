"""Closed forms of the heads (arguments: spec, final feature shape, num_classes)."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, act, avg_pool, closed_form, conv, linear, norm
from archspace.genotype.base import Shape
from archspace.genotype.specs.heads import FlatEmbeddingHead, GDCHead, LinearHead


@closed_form(LinearHead)
def linear_head(spec: LinearHead, x: Shape, num_classes: int) -> Cost:
    c, h, w = x.channels, x.height, x.width
    cost = Cost()
    hidden = spec.hidden
    if hidden is not None and hidden.position == "pre_pool":
        wide = int(c * hidden.ratio)
        cost = cost + conv(c, wide, 1, h, w) + norm(hidden.norm, wide, h, w)
        c = wide
    normed = (h, w) if spec.norm_position == "pre_pool" else (1, 1)
    cost = cost + avg_pool(c, h, w) + norm(spec.norm, c, *normed)
    if hidden is not None and hidden.position == "post_pool":
        wide = int(c * hidden.ratio)
        cost = cost + conv(c, wide, 1, 1, 1) + norm(hidden.norm, wide, 1, 1)
        c = wide
    if num_classes > 0:
        cost = cost + linear(c, num_classes, 1)
    return cost


def _classifier(embedding_size: int, num_classes: int) -> Cost:
    return linear(embedding_size, num_classes, 1) if num_classes > 0 else Cost()


@closed_form(GDCHead)
def gdc_head(spec: GDCHead, x: Shape, num_classes: int) -> Cost:
    c, h, w = x.channels, x.height, x.width
    cost = Cost()
    if spec.channels:
        cost = conv(c, spec.channels, 1, h, w) + norm("batchnorm", spec.channels, h, w) + act(spec.act, spec.channels)
        c = spec.channels
    cost = cost + conv(c, c, (h, w), 1, 1, groups=c) + norm("batchnorm", c, 1, 1)
    cost = cost + linear(c, spec.embedding_size, 1, bias=False) + norm("batchnorm", spec.embedding_size, 1, 1)
    return cost + _classifier(spec.embedding_size, num_classes)


@closed_form(FlatEmbeddingHead)
def flat_embedding_head(spec: FlatEmbeddingHead, x: Shape, num_classes: int) -> Cost:
    c, h, w = x.channels, x.height, x.width
    cost = norm("batchnorm", c, h, w) + conv(c, spec.embedding_size, (h, w), 1, 1, bias=True)
    cost = cost + norm("batchnorm", spec.embedding_size, 1, 1)
    return cost + _classifier(spec.embedding_size, num_classes)
