"""Supernet at a proxy width (width_divisor): subnets are narrow(adapt(genotype), d), the networks a
trained-architecture table trains; extraction stays exact and the subnet is the table's `trained` build."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

import archspace
from archspace.errors import ArchspaceError
from archspace.evaluate.data import load_data
from archspace.evaluate.registry import SetupContext, make_evaluator
from archspace.genotype.adapt import adapt
from archspace.genotype.scale import narrow
from archspace.search.sampling import RandomTrial
from archspace.search.space import SearchSpace
from archspace.supernet import checkpoint
from archspace.supernet.config import load_train_config
from archspace.supernet.create import new_supernet
from archspace.supernet.rate import rate
from archspace.supernet.sampler import PathSampler
from archspace.supernet.supernet import Supernet

HERE = Path(__file__).parent
TINY = HERE / "supernet_tiny.yaml"
D = 4


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return SearchSpace.from_file(TINY)


@pytest.fixture(scope="module")
def narrow_supernet(space) -> Supernet:
    return new_supernet(space, 32, 1, 10, seed=0, width_divisor=D).eval()


def space_genotypes(space: SearchSpace, n: int, seed: int = 0) -> list:
    """`n` genotypes as the space samples them (its 224 px target, not yet put onto the data) that a table at
    divisor D trains (one whose narrowed widths a group or head count no longer divides is skipped there too)."""
    rng, out = random.Random(seed), []
    while len(out) < n:
        try:
            g = space.sample(RandomTrial(rng))
            narrow(adapt(g, 32, 1, 10), D)
        except ValueError:
            continue
        out.append(g)
    return out


def outputs(supernet: Supernet, net: torch.nn.Module, g) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        return supernet(x, g), net(x)


def test_shared_tensors_are_sized_for_the_narrowed_widths(narrow_supernet):
    stem = [p for k, p in narrow_supernet.weights.items() if k.startswith("stem/") and p.dim() == 4]
    assert max(p.shape[0] for p in stem) == 32 // D  # stage 0 is at most 32 wide in the tiny space
    head = [p for k, p in narrow_supernet.weights.items() if k.startswith("head/") and p.dim() == 2]
    assert max(p.shape[1] for p in head) <= 64 * 3 // 2 // D  # stage 3 is 64 wide, the head's hidden 1.5x
    assert narrow_supernet.layout()["width_divisor"] == D


def test_narrowed_subnets_extract_exactly_for_every_mixer_and_ffn_kind(narrow_supernet):
    sampler = PathSampler(SearchSpace.from_file(TINY), 32, 1, 10, seed=3, width_divisor=D)
    mixers, ffns = set(), set()
    for _ in range(80):
        g = sampler.draw()
        mixers |= {s.mixer.kind for s in g.stages}
        ffns |= {s.ffn.kind for s in g.stages}
        net = archspace.build(g)
        net.load_state_dict(narrow_supernet.extract(g))
        ours, theirs = outputs(narrow_supernet, net.eval(), g)
        assert ((ours - theirs).abs().max() / theirs.abs().max().clamp_min(1e-12)).item() <= 1e-5
    assert len(mixers) == 11 and len(ffns) == 4  # the draws covered every kind


def test_subnet_is_the_tables_trained_network(space, narrow_supernet):
    """place(g) is the table's `trained` = narrow(adapt(g, 32, channels, classes), d), and its extracted
    state_dict loads strictly into archspace.build(trained) and computes the supernet's output."""
    for g in space_genotypes(space, 12, seed=5):
        trained = narrow(adapt(g, 32, 1, 10), D)
        placed = narrow_supernet.place(g)
        assert placed.id == trained.id
        net = archspace.build(trained).eval()
        net.load_state_dict(narrow_supernet.extract(placed), strict=True)
        sub = {k: tuple(v.shape) for k, v in narrow_supernet.subnet(placed).state_dict().items()}
        assert sub == {k: tuple(v.shape) for k, v in net.state_dict().items()}
        ours, theirs = outputs(narrow_supernet, net, placed)
        assert torch.allclose(ours, theirs, rtol=0, atol=1e-5 * theirs.abs().max().item())


def test_a_full_width_subnet_is_refused_by_a_narrowed_supernet(space, narrow_supernet):
    wide = PathSampler(space, 32, 1, 10, seed=0).draw("largest")
    with pytest.raises(ArchspaceError, match="needs .* but the supernet holds"):
        narrow_supernet.extract(wide)


def test_evaluator_narrows_by_the_checkpoints_divisor(space, narrow_supernet, tmp_path):
    checkpoint.save(tmp_path, narrow_supernet, None, {"data": {"name": "digits", "image_size": 32}, "epochs_done": 0, "history": []})
    assert checkpoint.load(tmp_path)[0].width_divisor == D
    bundle = load_data({"name": "digits", "image_size": 32, "max_train": 128, "max_val": 64})
    evaluator = make_evaluator({"kind": "supernet", "checkpoint": str(tmp_path), "calib_batches": 1, "batch_size": 32})
    evaluator.setup(SetupContext(bundle=bundle))
    g = adapt(space_genotypes(space, 1, seed=9)[0], 32, 1, 10)  # what a search hands an evaluator
    expected = rate(narrow_supernet, narrow(g, D), bundle, calib_batches=1, batch_size=32)
    assert evaluator.evaluate(g, bundle)["score"] == expected
    wrong = make_evaluator({"kind": "supernet", "checkpoint": str(tmp_path), "width_divisor": 2})
    with pytest.raises(ArchspaceError, match="evaluator.width_divisor: 2, but .* width divisor 4"):
        wrong.setup(SetupContext(bundle=bundle))
    with pytest.raises(ArchspaceError, match="width_divisor: 2 here but train.width_divisor is 4"):
        make_evaluator({"kind": "supernet", "checkpoint": "x", "width_divisor": 2, "train": {"width_divisor": 4}})


def test_training_config_takes_the_evaluators_divisor(tmp_path):
    import yaml

    data = {"name": "sn", "space": str(TINY), "objectives": ["score"], "data": {"name": "digits", "image_size": 32}, "seed": 0,
            "evaluator": {"kind": "supernet", "checkpoint": "x", "width_divisor": 4, "train": {"epochs": 1}}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    search, train = load_train_config(path)
    assert train.width_divisor == 4
    # the search config's dumped evaluator block validates again (as `archspace search` does) with one divisor
    assert search.evaluator["train"]["width_divisor"] == 4 and make_evaluator(search.evaluator).cfg.width_divisor == 4
    assert load_train_config(path, {"width_divisor": 2})[1].width_divisor == 2
