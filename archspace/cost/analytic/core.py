"""The closed-form registry, fvcore-matching primitives, and the walk over a genotype's plan."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from archspace.genotype.plan import plan
from archspace.genotype.schema import Genotype
from archspace.registry import SpecRegistry


@dataclass(frozen=True)
class Cost:
    """Parameters and multiply-adds; `parts` keeps (params, flops) of the tagged parts a paper may leave out.

    Tags are the genotype's `reference.excludes` names: attention_matmul (every matmul(), as fvcore's
    matmul/bmm/einsum buckets), norm, pool (adaptive average pooling), deform_sampling, pos_embed_params.
    """

    params: int = 0
    flops: int = 0
    parts: tuple[tuple[str, int, int], ...] = ()

    def __add__(self, other: "Cost") -> "Cost":
        merged = {name: (p, f) for name, p, f in self.parts}
        for name, p, f in other.parts:
            q, g = merged.get(name, (0, 0))
            merged[name] = (q + p, g + f)
        return Cost(self.params + other.params, self.flops + other.flops, tuple((k, p, f) for k, (p, f) in sorted(merged.items())))

    def __mul__(self, n: int) -> "Cost":
        return Cost(self.params * n, self.flops * n, tuple((k, p * n, f * n) for k, p, f in self.parts))

    def tagged(self, tag: str, params: bool = False) -> "Cost":
        """This (untagged) cost with its FLOPs (or, with params=True, its params) recorded as part `tag`."""
        return Cost(self.params, self.flops, ((tag, self.params if params else 0, 0 if params else self.flops),))

    def without(self, tags) -> "Cost":
        """The cost with the recorded parts named in `tags` removed (a paper's counting convention)."""
        out = Cost(self.params, self.flops)
        for name, p, f in self.parts:
            if name in tags:
                out = Cost(out.params - p, out.flops - f)
        return out


def total(costs) -> Cost:
    """Sum of an iterable of costs."""
    out = Cost()
    for c in costs:
        out = out + c
    return out


def conv(cin: int, cout: int, kernel: int | tuple[int, int], out_h: int, out_w: int, groups: int = 1, bias: bool = False) -> Cost:
    """A Conv2d: weights cout*(cin/groups)*k*k (+ bias); MACs = weights x output positions."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    weights = cout * (cin // groups) * kh * kw
    return Cost(weights + (cout if bias else 0), weights * out_h * out_w)


def linear(cin: int, cout: int, tokens: int, bias: bool = True) -> Cost:
    """A Linear applied to `tokens` vectors."""
    return Cost(cin * cout + (cout if bias else 0), cin * cout * tokens)


_NORM_FLOPS_PER_ELEMENT = {"batchnorm": 2, "layernorm": 5, "groupnorm": 5, "none": 0}


def norm(kind: str, channels: int, h: int, w: int) -> Cost:
    """A norm layer over a CxHxW map (affine: 2C params)."""
    if kind == "none":
        return Cost()
    return Cost(2 * channels, _NORM_FLOPS_PER_ELEMENT[kind] * channels * h * w).tagged("norm")


def act(kind: str, channels: int) -> Cost:
    """An activation over `channels` channels: PReLU learns one slope per channel; activations count no FLOPs."""
    return Cost(channels if kind == "prelu" else 0, 0)


def matmul(m: int, k: int, n: int, batch: int = 1) -> Cost:
    """A (batched) matrix product [m,k] x [k,n]."""
    return Cost(0, batch * m * k * n).tagged("attention_matmul")


def avg_pool(channels: int, h: int, w: int) -> Cost:
    """Adaptive average pooling: one FLOP per input element (fvcore)."""
    return Cost(0, channels * h * w).tagged("pool")


CLOSED_FORMS: SpecRegistry[Callable[..., Cost]] = SpecRegistry("closed-form cost")
closed_form = CLOSED_FORMS.register  # decorator: fn(spec, *builder args) -> Cost


def cost_of(spec: Any, *args: Any) -> Cost:
    """The closed-form cost of `spec` at the given site."""
    return CLOSED_FORMS.lookup(spec)(spec, *args)


def registered_closed_forms() -> dict[type, Callable[..., Cost]]:
    return CLOSED_FORMS.as_dict()


@dataclass(frozen=True)
class NetworkCost:
    """Analytic cost of a network: total, stem, each stage (downsample + blocks + out norm), head."""

    total: Cost
    stem: Cost
    stages: tuple[Cost, ...]
    head: Cost


def analytic_cost(genotype: Genotype) -> NetworkCost:
    """Params and FLOPs of the network `genotype` describes, without building it."""
    p = plan(genotype)
    stem = cost_of(genotype.stem, p.image)
    stages = []
    for stage, sp in zip(genotype.stages, p.stages):
        c = cost_of(stage.downsample, sp.input, sp.downsampled)
        c = c + total(cost_of(stage.block, stage, b) for b in sp.blocks)
        c = c + norm(stage.out_norm, sp.output.channels, sp.output.height, sp.output.width)
        stages.append(c)
    last = p.stages[-1].output
    head = cost_of(genotype.head, last, genotype.num_classes)
    return NetworkCost(stem + total(stages) + head, stem, tuple(stages), head)
