"""Every shipped genotype builds, runs, and reproduces its paper's params and FLOPs within tolerance."""
from __future__ import annotations

import pytest
import timm
import torch

from archspace import build
from archspace.fidelity import fidelity
from archspace.zoo import zoo_genotype, zoo_names

# Issue tolerances: SCSC models (paper reports whole millions) 5% params; the others 2%. FLOPs 5%.
PARAMS_TOLERANCE = {"scsc": 0.05}
FLOPS_TOLERANCE = 0.05

# Baselines that must have exactly timm's parameter count.
TIMM_TWINS = {
    "resnet50": "resnet50",
    "convnext_t": "convnext_tiny",
    "swin_t": "swin_tiny_patch4_window7_224",
    "pvt_v2_b2": "pvt_v2_b2",
}

# Genotypes that ship with a documented gap to the paper (see their `notes`): name -> reason.
KNOWN_GAPS: dict[str, str] = {
    "swin_t_scsc_official": "FLOPs 3.32G vs 3.5G: the official code's default kernel sets; swin_t_scsc (Table 1 sets) is the paper model",
    "resnet50_scsc_v1": "FLOPs 1.80G vs 1.7G: built exactly like V2/V3 (within 2.5%); the paper's 1.7G looks rounded down",
    "contnet_ti": "FLOPs 0.87G vs 0.8G: the paper truncates to one decimal (0.873 -> 0.8); no config reading reaches 0.8G",
    "contnet_b": "params 36.04M vs 39.6M: the released code's ConT-B has 36.04M; the paper's count is not reproducible",
    "faceresnet": "23.5M / 0.48G vs 40.3M / 1.05G: FaceResNet's widths, stem and head are published nowhere (no face code); read as ResNet-50",
    "faceresnet_scsc": "11.1M / 0.28G vs 8.3M / 0.33G: built on the reconstructed faceresnet; its widths are unpublished too",
}


def _params_tolerance(name: str) -> float:
    return next((tol for key, tol in PARAMS_TOLERANCE.items() if key in name), 0.02)


@pytest.mark.parametrize("name", zoo_names())
def test_zoo_genotype_matches_paper(name):
    row = fidelity(zoo_genotype(name))
    assert row.paper_params_m and row.paper_flops_g, "every zoo genotype carries the paper's numbers"
    within = abs(row.params_delta) <= _params_tolerance(name) and abs(row.flops_delta) <= FLOPS_TOLERANCE
    if name in KNOWN_GAPS:
        assert not within, f"{name} is now within tolerance: remove it from KNOWN_GAPS"
        pytest.xfail(KNOWN_GAPS[name])
    assert abs(row.params_delta) <= _params_tolerance(name), f"params {row.params_paper_convention / 1e6:.2f}M vs {row.paper_params_m}M"
    assert abs(row.flops_delta) <= FLOPS_TOLERANCE, f"FLOPs {row.flops_paper_convention / 1e9:.2f}G vs {row.paper_flops_g}G"


@pytest.mark.parametrize("name", zoo_names())
def test_zoo_genotype_runs_forward_at_batch_1(name):
    g = zoo_genotype(name)
    model = build(g).eval()
    with torch.no_grad():
        out = model(torch.randn(1, g.in_chans, g.image_size, g.image_size))
    assert out.shape == (1, g.num_classes or model.head_hidden_size) and torch.isfinite(out).all()  # num_classes 0: the embedding
    assert g.notes, "every zoo genotype says which readings it took"


@pytest.mark.parametrize("name", sorted(set(TIMM_TWINS) & set(zoo_names())))
def test_baseline_params_equal_timm(name):
    ours = sum(p.numel() for p in build(zoo_genotype(name)).parameters())
    theirs = sum(p.numel() for p in timm.create_model(TIMM_TWINS[name], pretrained=False).parameters())
    assert ours == theirs
