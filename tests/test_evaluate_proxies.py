"""Zero-cost proxies: hand-computed values on tiny networks, determinism on a real genotype."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from archspace.errors import ArchspaceError
from archspace.evaluate.proxies import PROXIES, get_proxy, grad_norm, naswot, snip, synflow, zico

from evalutils import one_torch_thread, tiny_hybrid  # noqa: F401  (autouse fixture)


def linear(weight: list[list[float]]) -> nn.Linear:
    layer = nn.Linear(len(weight[0]), len(weight), bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
    return layer


def test_synflow_of_a_linear_chain_is_depth_times_the_path_sum():
    # R = 1^T |W2| |W1| 1 is degree-1 homogeneous in each layer, so sum_theta theta dR/dtheta = L * R.
    w1, w2 = [[1.0, -2.0, 0.5], [-1.0, 3.0, 2.0]], [[2.0, -1.0]]
    model = nn.Sequential(linear(w1), linear(w2))
    r = float(torch.tensor(w2).abs() @ torch.tensor(w1).abs() @ torch.ones(3))  # = 2*3.5 + 1*6 = 13
    assert r == 13.0
    score = synflow(model, [(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))])
    assert score == pytest.approx(2 * r)
    # signs and dtype are restored
    assert model[0].weight.dtype == torch.float32
    assert torch.equal(model[0].weight.detach(), torch.tensor(w1))


def identity_net() -> nn.Linear:
    return linear([[1.0, 0.0], [0.0, 1.0]])


def test_grad_norm_and_snip_by_hand():
    # z = x = (1, 2), y = 0: dL/dz = softmax(z) - e0 = (-a, a), a = e / (1 + e); dL/dW = (dL/dz) x^T.
    a = math.e / (1 + math.e)
    batch = [(torch.tensor([[1.0, 2.0]]), torch.tensor([0]))]
    assert grad_norm(identity_net(), batch) == pytest.approx(a * math.sqrt(10))  # |(-a,-2a,a,2a)|
    assert snip(identity_net(), batch) == pytest.approx(3 * a)  # |W11 g11| + |W22 g22| = a + 2a


def test_naswot_by_hand():
    # Codes of the three images at the 3 ReLU units: (1,1,0), (1,1,1), (0,1,0); K = N_A - Hamming.
    model = nn.Sequential(linear([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]), nn.ReLU(), nn.Linear(3, 2))
    images = torch.tensor([[1.0, 2.0], [2.0, 1.0], [-1.0, 1.0]])
    kernel = torch.tensor([[3.0, 2.0, 2.0], [2.0, 3.0, 1.0], [2.0, 1.0, 3.0]])
    assert float(torch.det(kernel)) == pytest.approx(8.0)
    assert naswot(model, [(images, torch.zeros(3, dtype=torch.long))]) == pytest.approx(math.log(8.0))


def test_naswot_needs_rectifiers():
    with pytest.raises(ArchspaceError, match="no rectifier"):
        naswot(identity_net(), [(torch.randn(2, 2), torch.zeros(2, dtype=torch.long))])


def test_zico_by_hand():
    # W = 0: dL/dz = (-1/2, 1/2) for label 0. Batch 1: x = (1, 0); batch 2: x = (1, 1).
    # Per weight across the two batches: (-.5,-.5) and (.5,.5) have zero deviation (skipped);
    # (0,-.5) and (0,.5) give mean|g| / std = .25 / .25 = 1 each: ZiCo = log(2).
    model = linear([[0.0, 0.0], [0.0, 0.0]])
    batches = [(torch.tensor([[1.0, 0.0]]), torch.tensor([0])), (torch.tensor([[1.0, 1.0]]), torch.tensor([0]))]
    assert zico(model, batches) == pytest.approx(math.log(2.0))


def test_zico_splits_a_single_batch():
    model = linear([[0.0, 0.0], [0.0, 0.0]])
    one = [(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([0, 0]))]
    assert zico(model, one) == pytest.approx(math.log(2.0))


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_proxy_is_deterministic_and_leaves_weights(name):
    genotype = tiny_hybrid()
    from archspace.builder import build

    def score(seed: int) -> float:
        torch.manual_seed(seed)
        model = build(genotype)
        before = [p.detach().clone() for p in model.parameters()]
        images = torch.randn(8, 1, 32, 32, generator=torch.Generator().manual_seed(seed))
        value = get_proxy(name)(model, [(images, torch.arange(8) % 10)])
        assert all(torch.equal(b, p.detach()) for b, p in zip(before, model.parameters()))
        return value

    first = score(0)
    assert math.isfinite(first)
    assert score(0) == first
    assert score(1) != first


def test_unknown_proxy_lists_known():
    with pytest.raises(ArchspaceError, match="known proxies: grad_norm, naswot, snip, synflow, zico"):
        get_proxy("jacov")
