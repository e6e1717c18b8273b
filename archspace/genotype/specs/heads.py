"""Classifier head specs."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspace.genotype.base import Act, Norm, Spec


class HeadHidden(Spec):
    """A 1x1 conv widening in front of the classifier (STM-evaluation heads: 1.5x, BN, GELU)."""

    ratio: float = Field(1.5, gt=0)
    norm: Norm = "batchnorm"
    act: Act = "gelu"
    position: Literal["pre_pool", "post_pool"] = "post_pool"


class LinearHead(Spec):
    """Global average pool, optional norm and hidden layer, dropout, linear classifier."""

    kind: Literal["linear"] = "linear"
    norm: Norm = "none"
    norm_position: Literal["post_pool", "pre_pool"] = Field(
        "post_pool", description="norm the pooled vector, or the feature map before pooling (TransXNet, PoolFormer)"
    )
    hidden: HeadHidden | None = None
    dropout: float = Field(0.0, ge=0, lt=1)


HEADS = (LinearHead,)
