"""LayerNorm eps follows the official blocks: nn.LayerNorm's 1e-5 in STM-evaluation's halo and DCNv3 blocks
(norm1, norm2, and DCNv3's LayerNormProxy), timm's 1e-6 elsewhere; the gene moves it and ids keep their meaning."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from archspace.builder import build
from archspace.zoo import zoo_genotype


def _layernorm_eps(model: nn.Module) -> dict[str, float]:
    return {name: m.eps for name, m in model.named_modules() if isinstance(m, nn.LayerNorm)}


@pytest.mark.parametrize("name, inner", [("u_halonet_micro", ()), ("u_internimage_micro", ("dw_norm",))])
def test_stm_halo_and_dcn_blocks_use_nn_layernorm_eps(name, inner):
    eps = _layernorm_eps(build(zoo_genotype(name)))
    block = {k: v for k, v in eps.items() if k.endswith(("norm1", "norm2", *inner))}
    assert block and set(block.values()) == {1e-5}, block
    others = {k: v for k, v in eps.items() if k not in block}
    assert others and set(others.values()) == {1e-6}, others  # stem, downsampling and final norms stay timm's


def test_other_stm_blocks_keep_timm_eps():
    assert set(_layernorm_eps(build(zoo_genotype("u_swin_micro"))).values()) == {1e-6}


def test_the_gene_sets_the_eps_and_the_default_leaves_the_id():
    genotype = zoo_genotype("u_halonet_micro")
    stages = [s.model_copy(update={"mixer": s.mixer.model_copy(update={"norm_eps": 1e-6})}) for s in genotype.stages]
    changed = genotype.model_copy(update={"stages": stages})
    assert changed.id != genotype.id
    assert set(v for k, v in _layernorm_eps(build(changed)).items() if k.endswith(("norm1", "norm2"))) == {1e-6}


def test_block_norm_matches_nn_layernorm_in_float64():
    model = build(zoo_genotype("u_halonet_micro")).double().eval()
    norm = next(m for k, m in model.named_modules() if k.endswith("norm1"))
    reference = nn.LayerNorm(norm.normalized_shape).double()
    reference.load_state_dict(norm.state_dict())
    x = torch.randn(2, norm.normalized_shape[0], 5, 5, dtype=torch.float64) * 1e-3  # small variance: eps matters
    want = reference(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    assert torch.allclose(norm(x), want, rtol=0, atol=1e-12)
