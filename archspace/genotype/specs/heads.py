"""Head specs: classifier heads, and the embedding heads of face-recognition models."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspace.genotype.base import Act, ChannelAct, Norm, Spec


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


class GDCHead(Spec):
    """MobileFaceNet embedding (Chen et al. 2018 §3.2, Table 1): 1x1 conv + BN + act, linear global depthwise conv
    (kernel = the whole final map) + BN, linear 1x1 conv to `embedding_size` + BN; num_classes > 0 adds a classifier."""

    kind: Literal["gdc"] = "gdc"
    channels: int | None = Field(512, ge=1, description="width of the 1x1 conv in front of the GDConv (MobileFaceNet: 512); None: no such conv")
    act: ChannelAct = Field("prelu", description="activation after that 1x1 conv")
    embedding_size: int = Field(128, ge=1, description="embedding width (MobileFaceNet: 128; many implementations 512)")


class FlatEmbeddingHead(Spec):
    """Face-ResNet embedding (output option E of ArcFace, Deng et al. 2019; InsightFace): BN, dropout, FC over the flattened final map
    (C*H*W -> `embedding_size`, as a conv whose kernel is the whole map), BN; num_classes > 0 adds a classifier."""

    kind: Literal["flat_embedding"] = "flat_embedding"
    embedding_size: int = Field(512, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)


HEADS = (LinearHead, GDCHead, FlatEmbeddingHead)
