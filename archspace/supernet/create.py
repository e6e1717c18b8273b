"""A new supernet for a search space at one data size: sized by the scan, initialised from built networks."""
from __future__ import annotations

import torch

from archspace.builder import build
from archspace.errors import ArchspaceError
from archspace.genotype.schema import Genotype
from archspace.search.space import SearchSpace
from archspace.supernet.owners import owned_buffer, owner_key
from archspace.supernet.scan import scan_genotypes
from archspace.supernet.supernet import Supernet


def _grow(sizes: dict, key: str, shape: tuple[int, ...], name: str, genotype: Genotype) -> None:
    old = sizes.get(key)
    if old is not None and len(old) != len(shape):
        raise ArchspaceError(f"supernet: {key} is {len(old)}-D in one genotype and {len(shape)}-D in {genotype.name} ({name}); a gene changes its structure")
    sizes[key] = shape if old is None else tuple(max(a, b) for a, b in zip(old, shape))


def new_supernet(space: SearchSpace, image_size: int, in_chans: int, num_classes: int, seed: int = 0, n_random: int = 128,
                 width_divisor: int = 1) -> Supernet:
    """Scan `space` at the data's size (see `scan`), allocate each shared tensor at its largest shape, initialise it.

    `width_divisor`: every subnet is narrow(adapt(genotype), width_divisor), so the tensors are sized for that width.

    Initial values: every shared tensor is filled from the scan genotype that has the most of it, built with
    `seed` (networks built in order of that size, so the largest instance of each tensor is the last written).
    """
    params: dict[str, tuple[int, ...]] = {}
    buffers: dict[str, tuple[int, ...]] = {}
    dtypes: dict[str, torch.dtype] = {}
    best: dict[str, tuple[int, int]] = {}  # key -> (numel, scan index)
    genotypes = list(scan_genotypes(space, image_size, in_chans, num_classes, n_random=n_random, seed=seed, width_divisor=width_divisor))
    if not genotypes:
        raise ArchspaceError(f"supernet: no genotype of space {space.name} is valid at {image_size} px and width divisor {width_divisor}")
    for index, genotype in enumerate(genotypes):
        with torch.device("meta"):
            module = build(genotype)
        for name, t in list(module.named_parameters()) + [(n, b) for n, b in module.named_buffers() if owned_buffer(n)]:
            key, shape = owner_key(name, genotype), tuple(t.shape)
            is_param = isinstance(t, torch.nn.Parameter)
            _grow(params if is_param else buffers, key, shape, name, genotype)
            if not is_param:
                dtypes[key] = t.dtype
            if t.numel() > best.get(key, (-1, 0))[0]:
                best[key] = (t.numel(), index)
    supernet = Supernet(params, {k: (s, dtypes[k]) for k, s in buffers.items()}, image_size, in_chans, num_classes, width_divisor=width_divisor)
    sources = sorted({i for _, i in best.values()}, key=lambda i: sum(n for n, j in best.values() if j == i))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        supernet.init_from(genotypes[i] for i in sources)
    return supernet
