"""timm.create_model(name, img_size=S, dynamic_img_size=True) with cells (windows, halo blocks, patches) that do not
tile S: the network is planned at its genotype's size and serves S by padding, as a dynamic network serves any size."""
from __future__ import annotations

import pytest
import timm
import torch

import archspace
from archspace.errors import GenotypeError
from archspace.timm_models import register_zoo
from archspace.zoo import zoo_genotype


@pytest.mark.parametrize("name, size", [("u_swin_micro", 200), ("u_halonet_micro", 200), ("contnet_ti", 200)])
def test_dynamic_build_size_whose_cells_do_not_tile(name, size):
    register_zoo()
    with pytest.raises(GenotypeError, match="does not divide"):
        timm.create_model(f"archspace_{name}", img_size=size)  # static: refused, naming the field
    torch.manual_seed(0)
    model = timm.create_model(f"archspace_{name}", img_size=size, dynamic_img_size=True, num_classes=3).eval()
    assert model.pretrained_cfg["input_size"] == (3, size, size) and model.pretrained_cfg["fixed_input_size"] is False
    reference = archspace.build(zoo_genotype(name), dynamic_img_size=True, num_classes=3).eval()
    reference.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (1, 3) and torch.isfinite(out).all()
        assert torch.equal(out, reference(x))  # the same network: padding serves the size


def test_set_input_size_of_a_dynamic_network_to_a_size_its_cells_do_not_tile():
    model = archspace.build(zoo_genotype("u_swin_micro"), dynamic_img_size=True, num_classes=3).eval()
    model.set_input_size(img_size=200)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 200, 200)).shape == (1, 3)
