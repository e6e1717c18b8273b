"""Which shared tensor of the supernet serves each tensor of a subnet, and which slice of it.

A subnet is `archspace.build(genotype)`; its tensor `stages.2.blocks.1.mixer.qkv.weight` is served by the
supernet tensor of the same stage, block and mixer kind: `stages.2.blocks.1.mixer[swin].qkv.weight`
(FFN tensors likewise by FFN kind; stem, downsample, stage norm, head and the block's own norms by name).
Within one owner, genes that change sizes share weights by slicing (weight entanglement):

- leading slices on channel-like dims: AutoFormer (Chen et al. 2021, Sec. 3.1, weight entanglement) and
  Once-for-All's elastic width (Cai et al. 2020, Sec. 3.2), a subnet of width c takes the first c channels;
- centre slices on the spatial dims of a kernel (4-D `weight`) and on relative position tables along their
  offset axis (`rel_row`, `rel_col`): OFA's elastic kernel (a 3x3 kernel is the centre of the 7x7 one),
  without OFA's kernel transform matrices, so the slice stays a plain view.

Slices are views: gradients of a subnet reach the shared tensor only inside its slice.
"""
from __future__ import annotations

import torch

from archspace.errors import ArchspaceError
from archspace.genotype.schema import Genotype

# Buffers the supernet keeps (BatchNorm statistics); every other buffer (index tables, sample points) is
# derived from the genotype, so the subnet's own copy serves.
OWNED_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
# Parameters whose listed dims are centred (the rest lead); a 4-D weight is a conv kernel (O, I, kh, kw).
CENTRED = {"rel_row": (0,), "rel_col": (0,)}


def owned_buffer(name: str) -> bool:
    """Whether the supernet keeps this buffer (BatchNorm statistics) rather than the subnet."""
    return name.rsplit(".", 1)[-1] in OWNED_BUFFERS


def owner_key(name: str, genotype: Genotype) -> str:
    """The supernet tensor that serves subnet tensor `name` of `genotype` (its kind inserted after mixer/ffn)."""
    parts = name.split(".")
    if len(parts) > 5 and parts[0] == "stages" and parts[2] == "blocks" and parts[4] in ("mixer", "ffn"):
        stage = genotype.stages[int(parts[1])]
        spec = stage.mixer if parts[4] == "mixer" else stage.ffn
        parts[4] = f"{parts[4]}[{spec.kind}]"
    return ".".join(parts)


def storage_name(key: str) -> str:
    """An owner key as a module attribute name (torch forbids dots there)."""
    return key.replace(".", "/")


def centred_dims(key: str, ndim: int) -> tuple[int, ...]:
    """The dims of an owner that are sliced at their centre."""
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "weight" and ndim == 4:
        return (2, 3)
    return CENTRED.get(leaf, ())


def take(owner: torch.Tensor, shape: torch.Size | tuple[int, ...], key: str) -> torch.Tensor:
    """The slice of `owner` of `shape` (a view): leading on every dim, centred on the centred dims."""
    if owner.dim() != len(shape):
        raise ArchspaceError(f"supernet: {key} has {owner.dim()} dims in the supernet but {len(shape)} in the subnet")
    centred = centred_dims(key, owner.dim())
    index = []
    for dim, (full, size) in enumerate(zip(owner.shape, shape)):
        if size > full:
            raise ArchspaceError(f"supernet: {key} needs {tuple(shape)} but the supernet holds {tuple(owner.shape)}; a gene of this block goes beyond the space the supernet was built for")
        start = (full - size) // 2 if dim in centred else 0
        index.append(slice(start, start + size))
    return owner[tuple(index)]


def put(owner: torch.Tensor, value: torch.Tensor, key: str) -> None:
    """Copy `value` into its slice of `owner` (in place, no autograd)."""
    with torch.no_grad():
        take(owner, value.shape, key).copy_(value)
