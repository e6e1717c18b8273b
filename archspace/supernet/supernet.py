"""The weight-sharing supernet: one set of shared tensors, any subnet of its space run on slices of them.

A subnet is `archspace.build(genotype)` (cached per genotype id; its own weights are never used), run with
`torch.func.functional_call` on views of the shared tensors (see `owners`). Extraction materialises the same
views into a state_dict for `archspace.build(genotype)`, so the stand-alone network computes exactly what the
supernet computes on that path.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

import torch
from torch import nn
from torch.func import functional_call

from archspace.builder import build
from archspace.errors import ArchspaceError
from archspace.genotype.schema import Genotype
from archspace.supernet.owners import owned_buffer, owner_key, put, storage_name, take

Shapes = dict[str, tuple[int, ...]]


class Supernet(nn.Module):
    """Shared parameters (`weights`) and BatchNorm statistics (`stats`) for every subnet of a space at one data size.

    forward(x, genotype) runs the subnet; `extract(genotype)` gives its stand-alone state_dict. `width_divisor`:
    the subnets are narrow(adapt(genotype), width_divisor) (`place`), the width the tensors were sized for.
    """

    def __init__(self, params: Shapes, buffers: dict[str, tuple[tuple[int, ...], torch.dtype]], image_size: int, in_chans: int, num_classes: int,
                 cache: int = 32, width_divisor: int = 1):
        super().__init__()
        self.image_size, self.in_chans, self.num_classes = image_size, in_chans, num_classes
        self.width_divisor = width_divisor
        self.weights = nn.ParameterDict({storage_name(k): nn.Parameter(torch.zeros(s)) for k, s in params.items()})
        self.stats = nn.Module()
        for key, (shape, dtype) in buffers.items():
            fill = 1 if key.endswith("running_var") else 0
            self.stats.register_buffer(storage_name(key), torch.full(shape, fill, dtype=dtype))
        self.cache_size = cache
        self.sync_bn = False  # set by DDP training on CUDA: subnets use SyncBatchNorm (global batch statistics)
        self._subnets: OrderedDict[str, nn.Module] = OrderedDict()

    # ------------------------------------------------------------------ layout
    def layout(self) -> dict:
        """What a checkpoint needs to rebuild this supernet before loading its state_dict."""
        return {
            "params": {k.replace("/", "."): list(p.shape) for k, p in self.weights.items()},
            "buffers": {k.replace("/", "."): [list(b.shape), str(b.dtype).removeprefix("torch.")] for k, b in self.stats.named_buffers()},
            "image_size": self.image_size, "in_chans": self.in_chans, "num_classes": self.num_classes,
            "width_divisor": self.width_divisor,
        }

    @classmethod
    def from_layout(cls, layout: dict) -> "Supernet":
        params = {k: tuple(s) for k, s in layout["params"].items()}
        buffers = {k: (tuple(s), getattr(torch, d)) for k, (s, d) in layout["buffers"].items()}
        return cls(params, buffers, layout["image_size"], layout["in_chans"], layout["num_classes"],
                   width_divisor=layout.get("width_divisor", 1))

    # ------------------------------------------------------------------ subnets
    def place(self, genotype: Genotype) -> Genotype:
        """The subnet of a space genotype: put onto the supernet's data (`adapt`, when its size, channels or
        classes differ), then narrowed by the supernet's width divisor (the network a table trains at that width)."""
        from archspace.genotype.adapt import adapt
        from archspace.genotype.scale import narrow

        if (genotype.image_size, genotype.in_chans, genotype.num_classes) != (self.image_size, self.in_chans, self.num_classes):
            genotype = adapt(genotype, self.image_size, self.in_chans, self.num_classes)
        return narrow(genotype, self.width_divisor)

    def check(self, genotype: Genotype) -> None:
        """Refuse a genotype not put onto this supernet's data (`adapt` it first)."""
        for field in ("image_size", "in_chans", "num_classes"):
            if getattr(genotype, field) != getattr(self, field):
                raise ArchspaceError(
                    f"supernet: genotype {genotype.name} has {field}={getattr(genotype, field)}, the supernet {getattr(self, field)}; "
                    "put it onto the data with archspace.genotype.adapt.adapt first"
                )

    def subnet(self, genotype: Genotype) -> nn.Module:
        """The network of `genotype` whose tensors the supernet serves (built once, kept in a small LRU cache)."""
        module = self._subnets.pop(genotype.id, None)
        if module is None:
            self.check(genotype)
            module = build(genotype)
            if self.sync_bn:
                module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
            for p in module.parameters():
                p.requires_grad_(False)
            module.to(next(iter(self.weights.values())).device)
        self._subnets[genotype.id] = module
        while len(self._subnets) > self.cache_size:
            self._subnets.popitem(last=False)
        return module

    def _owner(self, name: str, genotype: Genotype, store) -> tuple[str, torch.Tensor]:
        key = owner_key(name, genotype)
        try:
            return key, store[storage_name(key)]
        except KeyError:
            raise ArchspaceError(f"supernet: no shared tensor for {name} of {genotype.name} ({key}); the supernet was sized for another space") from None

    def path_tensors(self, genotype: Genotype, module: nn.Module) -> dict[str, torch.Tensor]:
        """Subnet tensor name -> its slice of the shared tensors (parameters made contiguous, BN statistics as views)."""
        out: dict[str, torch.Tensor] = {}
        for name, p in module.named_parameters():
            key, owner = self._owner(name, genotype, self.weights)
            out[name] = take(owner, p.shape, key).contiguous()
        stats = dict(self.stats.named_buffers())
        for name, b in module.named_buffers():
            if owned_buffer(name):
                key, owner = self._owner(name, genotype, stats)
                out[name] = take(owner, b.shape, key)
        return out

    def path_keys(self, genotype: Genotype) -> set[str]:
        """Storage names of the shared parameters the path of `genotype` uses."""
        return {storage_name(owner_key(n, genotype)) for n, _ in self.subnet(genotype).named_parameters()}

    def forward(self, x: torch.Tensor, genotype: Genotype) -> torch.Tensor:
        module = self.subnet(genotype)
        module.train(self.training)
        return functional_call(module, self.path_tensors(genotype, module), (x,))

    # ------------------------------------------------------------------ extraction
    def extract(self, genotype: Genotype) -> dict[str, torch.Tensor]:
        """The state_dict of `archspace.build(genotype)` with the supernet's weights on that path."""
        module = self.subnet(genotype)
        canonical = {}
        for name, t in list(module.named_parameters(remove_duplicate=False)) + list(module.named_buffers(remove_duplicate=False)):
            canonical.setdefault(id(t), name)
        named = {n: t for n, t in list(module.named_parameters(remove_duplicate=False)) + list(module.named_buffers(remove_duplicate=False))}
        path = {n: t.detach() for n, t in self.path_tensors(genotype, module).items()}
        state = {}
        for name, value in module.state_dict().items():
            source = canonical.get(id(named[name]), name) if name in named else name
            state[name] = (path[source] if source in path else value).detach().clone().cpu()
        return state

    # ------------------------------------------------------------------ initialisation
    def init_from(self, genotypes: Iterable[Genotype]) -> None:
        """Fill each shared tensor's slice with a freshly built network's initial values, in the given order (later wins)."""
        stats = dict(self.stats.named_buffers())
        for genotype in genotypes:
            module = build(genotype)
            for name, p in module.named_parameters():
                put(self.weights[storage_name(owner_key(name, genotype))], p.detach(), owner_key(name, genotype))
            for name, b in module.named_buffers():
                if owned_buffer(name):
                    put(stats[storage_name(owner_key(name, genotype))], b, owner_key(name, genotype))
