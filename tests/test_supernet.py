"""Supernet: sizing, exact extraction for every mixer/FFN kind and elastic gene, gradients only in the active slice."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch

import archspace
from archspace.errors import ArchspaceError
from archspace.genotype.adapt import adapt
from archspace.search.sampling import RandomTrial
from archspace.search.space import SearchSpace
from archspace.supernet.create import new_supernet
from archspace.supernet.owners import owner_key, storage_name, take
from archspace.supernet.scan import adapted

SPACE = Path(__file__).parent / "supernet_tiny.yaml"
MIXERS = ["conv", "dwconv", "scsc", "sra", "swin", "halo", "mhsa", "hmhsa", "cont", "dmixer", "dcnv3"]
FFNS = ["mlp", "irb", "msffn", "conv_mlp"]


class Pinned(RandomTrial):
    """A random trial with some parameters fixed."""

    def __init__(self, seed: int, pins: dict[str, Any]):
        super().__init__(random.Random(seed))
        self.params.update(pins)


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return SearchSpace.from_file(SPACE)


@pytest.fixture(scope="module")
def supernet(space):
    net = new_supernet(space, 32, 1, 10, seed=0)
    return net.eval()


def all_stages(key: str, value: Any) -> dict[str, Any]:
    return {f"stages[{i}].{key}": value for i in range(4)}


def pinned(space, seed: int = 0, pins: dict[str, Any] | None = None):
    for attempt in range(50):
        g = adapted(space, Pinned(seed + 1000 * attempt, dict(pins or {})), 32, 1, 10)
        if g is not None:
            return g
    raise AssertionError(f"no valid genotype with {pins}")


def assert_exact(supernet, g, train: bool = False) -> torch.Tensor:
    """The stand-alone network with the extracted state_dict computes the supernet's path output (<= 1e-5 relative)."""
    torch.manual_seed(0)
    x = torch.randn(4, 1, 32, 32)
    net = archspace.build(g)
    net.load_state_dict(supernet.extract(g))
    supernet.train(train)
    net.train(train)
    with torch.no_grad():
        ours, theirs = supernet(x, g), net(x)
    supernet.eval()
    assert ours.shape == (4, 10)
    scale = theirs.abs().max().clamp_min(1e-12)
    assert ((ours - theirs).abs().max() / scale).item() <= 1e-5
    return ours


@pytest.mark.parametrize("kind", MIXERS)
def test_every_mixer_kind_extracts_exactly(space, supernet, kind):
    for seed in range(2):
        g = pinned(space, seed, all_stages("mixer.kind", kind))
        assert {s.mixer.kind for s in g.stages} == {kind}
        assert_exact(supernet, g)


@pytest.mark.parametrize("kind", FFNS)
def test_every_ffn_kind_extracts_exactly(space, supernet, kind):
    for seed in range(2):
        g = pinned(space, seed, all_stages("ffn.kind", kind))
        assert {s.ffn.kind for s in g.stages} == {kind}
        assert_exact(supernet, g)


def test_train_mode_batch_statistics_match(space, supernet):
    g = pinned(space, 3, all_stages("mixer.kind", "scsc") | all_stages("ffn.kind", "msffn"))
    before = {k: b.clone() for k, b in supernet.stats.named_buffers()}
    assert_exact(supernet, g, train=True)
    changed = [k for k, b in supernet.stats.named_buffers() if not torch.equal(b, before[k])]
    assert changed and all("stages/" in k or "head" in k for k in changed)
    supernet.stats.load_state_dict(before)


ELASTIC = {  # gene: (pins shared by both values, parameter, small value, large value, a tensor the gene resizes)
    "channels": ({"stages[0].mixer.kind": "conv"}, "stages[0].channels", 16, 32, "stages.0.blocks.0.mixer[conv].weight"),
    "depth": ({"stages[1].mixer.kind": "mhsa"}, "stages[1].depth", 1, 2, "stages.1.blocks.1.norm1.weight"),
    "ffn ratio": ({"stages[0].ffn.kind": "mlp"}, "stages[0].ffn.ratio@mlp", 2, 4, "stages.0.blocks.0.ffn[mlp].fc1.weight"),
    "kernel size": ({"stages[0].mixer.kind": "dwconv", "stages[0].mixer.proj@dwconv": False}, "stages[0].mixer.kernel@dwconv", 3, 7, "stages.0.blocks.0.mixer[dwconv].weight"),
    "heads": ({"stages[0].mixer.kind": "swin", "stages[0].channels": 16}, "stages[0].channels", 16, 32, "stages.0.blocks.0.mixer[swin].rel_pos"),
    "attention ratio": ({"stages[0].mixer.kind": "dmixer"}, "stages[0].mixer.attn_ratio@dmixer", 0.25, 0.75, "stages.0.blocks.0.mixer[dmixer].osra.q.weight"),
}


@pytest.mark.parametrize("gene", list(ELASTIC))
def test_elastic_gene_shares_one_tensor(space, supernet, gene):
    """Both values of the gene extract exactly, and the smaller one's tensor is a slice of the larger one's."""
    pins, param, small, large, key = ELASTIC[gene]
    pins = {**pins, "stages[0].depth": 1, "stages[1].depth": 2}
    nets = {}
    for value in (small, large):
        g = pinned(space, 5, {**pins, param: value})
        assert_exact(supernet, g)
        nets[value] = (g, supernet.extract(g))
    owner = supernet.weights[storage_name(key)]
    names = {v: [n for n in sd if owner_key(n, g) == key] for v, (g, sd) in nets.items()}
    assert names[large], f"{key} not on the large path"
    big = nets[large][1][names[large][0]]
    if names[small]:  # depth: the small genotype has no second block at all
        little = nets[small][1][names[small][0]]
        assert little.numel() < big.numel()
        assert torch.equal(take(big, little.shape, key), little)
    assert all(a <= b for a, b in zip(big.shape, owner.shape))


def test_gradient_reaches_only_the_active_slice(space, supernet):
    g = pinned(space, 7, {"stages[0].mixer.kind": "conv", "stages[0].channels": 16, "stages[0].mixer.kernel@conv": 3,
                          "stages[0].mixer.groups@conv": 1, "stages[0].depth": 1})
    supernet.zero_grad(set_to_none=True)
    supernet.train()
    loss = supernet(torch.randn(8, 1, 32, 32), g).logsumexp(1).mean()
    loss.backward()
    supernet.eval()
    owner = supernet.weights[storage_name("stages.0.blocks.0.mixer[conv].weight")]
    assert owner.shape == (32, 32, 5, 5)
    inside = owner.grad[:16, :16, 1:4, 1:4]
    assert inside.abs().sum() > 0
    mask = torch.ones_like(owner.grad, dtype=torch.bool)
    mask[:16, :16, 1:4, 1:4] = False
    assert owner.grad[mask].abs().sum() == 0
    unused = supernet.weights[storage_name("stages.0.blocks.0.mixer[swin].qkv.weight")]
    assert unused.grad is None
    used = supernet.path_keys(g)
    assert all(p.grad is None for k, p in supernet.weights.items() if k not in used)
    supernet.zero_grad(set_to_none=True)


def test_random_subnets_are_all_covered(space, supernet):
    rng = random.Random(123)
    seen = set()
    x = torch.randn(2, 1, 32, 32)
    for _ in range(40):
        g = adapted(space, RandomTrial(rng), 32, 1, 10)
        if g is not None:
            seen.update(s.mixer.kind for s in g.stages)
            with torch.no_grad():
                assert supernet(x, g).shape == (2, 10)
    assert len(seen) >= 8


def test_refuses_a_genotype_not_put_onto_its_data(space, supernet):
    g = space.sample(Pinned(0, {}))  # 224 px, 3 channels, 1000 classes
    with pytest.raises(ArchspaceError, match="adapt"):
        supernet(torch.randn(1, 3, 224, 224), g)


def test_refuses_a_tensor_beyond_the_space(space, supernet):
    g = pinned(space, 0, all_stages("mixer.kind", "dwconv") | {"stages[0].mixer.kernel@dwconv": 7, "stages[0].mixer.proj@dwconv": False})
    wide = adapt(type(g).model_validate({**g.model_dump(), "stages": [
        {**g.stages[0].model_dump(), "mixer": {**g.stages[0].mixer.model_dump(), "kernel": 11}}, *[s.model_dump() for s in g.stages[1:]]]}), 32, 1, 10)
    with pytest.raises(ArchspaceError, match=r"mixer\[dwconv\]\.weight needs .* beyond the space"):
        supernet(torch.randn(1, 1, 32, 32), wide)
